"""``orchestrator``: parse the command line, run the command, and turn every expected failure
into one line ``error: ...`` with what to do, and exit status 2."""
from __future__ import annotations

import logging
import os
import sys

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.cli.client import ApiError
from orchestrator.cli.parser import build_parser
from orchestrator.cli.run import INTERRUPTED
from orchestrator.cli.standalone import StartError
from orchestrator.config import ConfigError, get_settings
from orchestrator.definitions import DefinitionError
from orchestrator.services.errors import DomainError


def _database_error(exc: SQLAlchemyError) -> str:
    """One line on what is wrong with the database, and what to do."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return f"the database has no tables yet ({text}); run `orchestrator db upgrade`"
    where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    return (f"cannot use the database {where}: {text}; check DATABASE_URL, and create the database if it "
            "does not exist (for PostgreSQL: createdb NAME), then run `orchestrator db upgrade`")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logging.basicConfig(level=get_settings().log_level, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
        return args.func(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:             # the reader (`| head`) has gone: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except SQLAlchemyError as exc:
        message = _database_error(exc)
    except (ConfigError, DomainError, DefinitionError, ApiError, StartError, OSError) as exc:
        message = str(exc)
    print(f"error: {message}", file=sys.stderr)
    return 2
