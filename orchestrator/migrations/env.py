"""Alembic environment of the migrations shipped in the package (``orchestrator db upgrade``)."""
from orchestrator.db.migrate import run_environment

run_environment()
