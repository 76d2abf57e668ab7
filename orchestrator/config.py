"""Settings read once from environment variables into one object (12-factor).

Defaults give the embedded setup: a SQLite database and a SQLite-backed broker in a
data directory, so that nothing has to be installed to run a workflow.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    encryption_keys: tuple[str, ...] = ()
    bootstrap_api_key: str | None = None
    http_allow_private: bool = False
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    # A running step's lease; a heartbeat renews it while the node runs.
    lease_seconds: float = 15.0
    # How often the maintenance sweep runs (re-sends, leases, retries, timeouts).
    sweep_interval_seconds: float = 2.0
    # A queued step whose message has not started after this long is re-sent.
    requeue_after_seconds: float = 30.0
    # Broker visibility timeout: longer than any node timeout.
    visibility_timeout_seconds: int = 3600
    # Events (the execution log) of executions finished longer ago are deleted (seed 001); 0 keeps them.
    event_retention_days: int = 30
    # How deep child executions (subworkflow nodes) may nest, and how many items one map may have.
    max_child_depth: int = 5
    max_map_items: int = 1000
    # Open text/event-stream responses per API process; each holds a server thread, so past
    # this many a new one answers 503 and the threads stay free for other requests.
    max_event_streams: int = 4
    # Model endpoints may be on private addresses (local model servers); standalone sets it.
    llm_allow_private: bool = False
    # First wait before retrying a model call after a 5xx, a timeout or a connection error;
    # it doubles each retry, with jitter.
    llm_retry_backoff_seconds: float = 0.5
    # How long a credential refused with 401/403 is left aside.
    llm_auth_cooldown_seconds: float = 300.0
    # The most characters a model call's messages may hold (prompt, memory, tool results).
    llm_max_prompt_chars: int = 1_000_000
    # Outbound notifications: the wait before the second attempt (doubling each time, at most
    # an hour), and how many attempts a delivery gets.
    notify_backoff_seconds: float = 10.0
    notify_max_attempts: int = 8
    # Where a worker or beat process serves /metrics; None: it serves none.
    worker_metrics_port: int | None = None

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("ORCHESTRATOR_DATA_DIR") or "orchestrator-data").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'orchestrator.db'}"
        broker_url = env.get("BROKER_URL") or f"embedded+sqlite:///{data_dir / 'broker.db'}"
        keys = tuple(k.strip() for k in (env.get("ORCHESTRATOR_ENCRYPTION_KEYS") or "").split(",") if k.strip())
        log_level = (env.get("LOG_LEVEL") or "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url,
            encryption_keys=keys,
            bootstrap_api_key=env.get("ORCHESTRATOR_BOOTSTRAP_API_KEY") or None,
            http_allow_private=_bool(env, "ORCHESTRATOR_HTTP_ALLOW_PRIVATE", False),
            log_level=log_level,
            max_body_bytes=_int(env, "ORCHESTRATOR_MAX_BODY_BYTES", 1_048_576),
            lease_seconds=_float(env, "ORCHESTRATOR_LEASE_SECONDS", 15.0),
            sweep_interval_seconds=_float(env, "ORCHESTRATOR_SWEEP_INTERVAL_SECONDS", 2.0),
            requeue_after_seconds=_float(env, "ORCHESTRATOR_REQUEUE_AFTER_SECONDS", 30.0),
            visibility_timeout_seconds=_int(env, "ORCHESTRATOR_VISIBILITY_TIMEOUT_SECONDS", 3600),
            event_retention_days=_int(env, "ORCHESTRATOR_EVENT_RETENTION_DAYS", 30),
            max_child_depth=_int(env, "ORCHESTRATOR_MAX_CHILD_DEPTH", 5),
            max_map_items=_int(env, "ORCHESTRATOR_MAX_MAP_ITEMS", 1000),
            max_event_streams=_int(env, "ORCHESTRATOR_MAX_EVENT_STREAMS", 4),
            llm_allow_private=_bool(env, "ORCHESTRATOR_LLM_ALLOW_PRIVATE", False),
            llm_retry_backoff_seconds=_float(env, "ORCHESTRATOR_LLM_RETRY_BACKOFF_SECONDS", 0.5),
            llm_auth_cooldown_seconds=_float(env, "ORCHESTRATOR_LLM_AUTH_COOLDOWN_SECONDS", 300.0),
            llm_max_prompt_chars=_int(env, "ORCHESTRATOR_LLM_MAX_PROMPT_CHARS", 1_000_000),
            notify_backoff_seconds=_float(env, "ORCHESTRATOR_NOTIFY_BACKOFF_SECONDS", 10.0),
            notify_max_attempts=max(1, _int(env, "ORCHESTRATOR_NOTIFY_MAX_ATTEMPTS", 8)),
            worker_metrics_port=_int(env, "ORCHESTRATOR_WORKER_METRICS_PORT", 0) or None,
        )


def secret_file(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret kept in ``path`` (mode 0600), made with ``make()`` if the file is absent;
    also whether this call made it. Safe when several processes start together: the file is
    written aside and linked into place, so a reader never sees it half-written and exactly
    one secret wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")   # mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make() + "\n")
            os.link(staged, path)
            return path.read_text().strip(), True
        except FileExistsError:
            pass                                # another process made it first: use theirs
        finally:
            os.unlink(staged)
    return path.read_text().strip(), False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
