"""Real PostgreSQL and Redis for the tests.

The servers at 127.0.0.1 are used when they answer (or the ones named by
ORCHESTRATOR_TEST_PG_URL / ORCHESTRATOR_TEST_REDIS_URL); otherwise throwaway servers are
started from the installed binaries. With neither, the tests fail saying what to install.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
import redis

INSTALL_HINT = (
    "install PostgreSQL and Redis (Debian: apt-get install postgresql redis-server), "
    "or point ORCHESTRATOR_TEST_PG_URL / ORCHESTRATOR_TEST_REDIS_URL at running servers"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not up yet"
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up: {exc}") from exc
            time.sleep(0.2)


class OwnPostgres:
    """A throwaway PostgreSQL cluster from the installed binaries; it can be restarted."""

    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        self.bindir = bindirs[-1] if bindirs else os.path.dirname(shutil.which("initdb") or "")
        if not self.bindir or not os.path.exists(os.path.join(self.bindir, "initdb")):
            raise RuntimeError(f"no PostgreSQL at 127.0.0.1:5432 and no initdb binary: {INSTALL_HINT}")
        self.datadir = Path(tempfile.mkdtemp(prefix="orch-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.datadir, "postgres")
        subprocess.run([*self.as_user, f"{self.bindir}/initdb", "-D", str(self.datadir), "-U", "postgres",
                        "-A", "trust"], check=True, capture_output=True)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, f"{self.bindir}/pg_ctl", "-D", str(self.datadir), *args],
                       check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("-w", "-l", str(self.datadir / "log"), "-o",
                  f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1", "start")
        _wait(lambda: psycopg.connect(self.url, connect_timeout=2).close(), "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def close(self) -> None:
        subprocess.run([*self.as_user, f"{self.bindir}/pg_ctl", "-D", str(self.datadir), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


class OwnRedis:
    """A throwaway Redis (nothing kept on disk, like the machine's) that can be restarted."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError(f"no Redis at 127.0.0.1:6379 and no redis-server binary: {INSTALL_HINT}")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: redis.Redis.from_url(self.url).ping(), "Redis")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextmanager
def private_servers() -> Iterator[tuple[OwnPostgres, OwnRedis, str]]:
    """PostgreSQL and Redis of a test module's own, to stop and restart, and the SQLAlchemy URL
    of a database ``orchestrator`` made on that PostgreSQL."""
    postgres, broker = OwnPostgres(), OwnRedis()
    try:
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE orchestrator")
        yield postgres, broker, postgres.url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] \
            + "/orchestrator"
    finally:
        broker.close()
        postgres.close()


class Servers:
    def __init__(self) -> None:
        self._cleanups: list = []
        self.pg_admin_url = self._postgres()
        self.redis_url = self._redis()

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            cleanup()

    def _postgres(self) -> str:
        url = os.environ.get("ORCHESTRATOR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return url
        except psycopg.OperationalError:
            if "ORCHESTRATOR_TEST_PG_URL" in os.environ:
                raise
        own = OwnPostgres()
        self._cleanups.append(own.close)
        return own.url

    def _redis(self) -> str:
        url = os.environ.get("ORCHESTRATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
            return url
        except redis.RedisError:
            if "ORCHESTRATOR_TEST_REDIS_URL" in os.environ:
                raise
        own = OwnRedis()
        self._cleanups.append(own.close)
        return own.url

    def create_database(self) -> str:
        """A new, empty PostgreSQL database; returns its SQLAlchemy URL."""
        name = f"orch_test_{os.getpid()}_{int(time.time() * 1000) % 10**9}_{len(self._cleanups)}"
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        self._cleanups.append(drop)
        base = self.pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{name}"

    def claim_redis_db(self) -> str:
        """An empty Redis db index of our own, flushed when the run ends (or when released with
        ``release_redis_db``, so that a long run never runs out of the 15)."""
        for index in range(15, 0, -1):
            client = redis.Redis.from_url(f"{self.redis_url}/{index}")
            token = f"{os.getpid()}:{uuid.uuid4()}"
            if client.dbsize() == 0 and client.set(CLAIM, token, nx=True):
                self._cleanups.append(lambda client=client, token=token: _release(client, token))
                return f"{self.redis_url}/{index}"
        raise RuntimeError("no empty Redis db index among 1..15")


CLAIM = "orchestrator-tests:claim"


def _release(client: redis.Redis, token: str) -> None:
    """Flush the db if it is still ours (another run may have claimed it since we released it)."""
    if client.get(CLAIM) == token.encode():
        client.flushdb()


def release_redis_db(url: str) -> None:
    """Give back a db index claimed by ``claim_redis_db`` before the run ends."""
    client = redis.Redis.from_url(url)
    claim = client.get(CLAIM)
    if claim is not None:
        _release(client, claim.decode())
