"""Alembic migrations, shipped with the package (see orchestrator.db.migrate)."""
