"""Alembic environment of a checkout (the ``alembic`` command with the top-level alembic.ini):
the same migrations as ``orchestrator db upgrade``, which ship inside the package
(orchestrator/migrations/versions) so that an installed wheel runs them too."""
from orchestrator.db.migrate import run_environment

run_environment()
