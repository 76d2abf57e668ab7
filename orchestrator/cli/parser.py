"""The ``orchestrator`` command tree: each group registers its own commands."""
from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

from orchestrator.cli import access, agents, executions, local, providers, run, workflows

DESCRIPTION = "orchestrator: run workflows, the API, workers and beat, and manage what they hold."


def _version() -> str:
    try:
        return version("orchestrator")
    except PackageNotFoundError:        # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run.add_run(commands)
    local.add_standalone(commands)
    workflows.add_commands(commands)
    run.add_tail(executions.add_commands(commands))
    providers.add_commands(commands)
    agents.add_commands(commands)
    access.add_commands(commands)
    local.add_commands(commands)
    return parser
