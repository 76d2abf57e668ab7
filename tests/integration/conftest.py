from __future__ import annotations

import pytest

from tests.support.stack import running_stack


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    """A PostgreSQL database, a Redis db, two `celery worker` processes and a local HTTP server,
    per module."""
    with running_stack(tmp_path_factory.mktemp("stack"), servers.create_database(),
                       servers.claim_redis_db()) as running:
        yield running
