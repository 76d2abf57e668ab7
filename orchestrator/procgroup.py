"""Run one process group (an API's gunicorn, a celery worker, beat) as the Procfile and the
image do: ``python -m orchestrator.procgroup COMMAND [ARGS...]``.

- **Its own metrics directory.** prometheus_client's multiprocess mode needs a directory
  that holds only the files of the group's processes, empty when the group starts: a new
  one in the temporary directory (TMPDIR), handed to the command in PROMETHEUS_MULTIPROC_DIR
  (whatever that said before), emptied before each restart and removed at exit. Groups on
  one machine never share one, so none wipes another's.
- **Started again when it exits on its own** with a failure status (a crash, a worker that
  gave up on its broker): after 1 s, doubling up to 30 s while it keeps failing within a
  minute of its start. Status 0 ends the group.
- **SIGTERM or SIGINT stop it**: the command gets SIGTERM (a warm shutdown for celery, a
  graceful one for gunicorn; never a second SIGINT, which would make celery's shutdown cold)
  and the group exits with its status.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
STEADY_SECONDS = 60.0           # a run this long resets the delay


def empty(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


class ProcessGroup:
    def __init__(self, command: list[str], directory: Path):
        self.command, self.directory = command, directory
        self.child: subprocess.Popen | None = None
        self.stopping = False

    def stop(self, _signum: int = signal.SIGTERM, _frame: object = None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        """The command's exit status, once it ended for good (as a shell reports it)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        delay = FIRST_DELAY_SECONDS
        while True:
            empty(self.directory)
            started = time.monotonic()
            self.child = subprocess.Popen(self.command, env={**os.environ,
                                                             "PROMETHEUS_MULTIPROC_DIR": str(self.directory)})
            if self.stopping:                   # stopped while it was starting
                self.child.send_signal(signal.SIGTERM)
            status = self.child.wait()
            status = 128 - status if status < 0 else status
            if self.stopping or status == 0:
                return status
            if time.monotonic() - started >= STEADY_SECONDS:
                delay = FIRST_DELAY_SECONDS
            print(f"procgroup: {self.command[0]} exited with status {status}; starting it again in {delay:g} s",
                  file=sys.stderr, flush=True)
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.stopping:
                return status
            delay = min(2 * delay, MAX_DELAY_SECONDS)


def main(argv: list[str] | None = None) -> int:
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: python -m orchestrator.procgroup COMMAND [ARGS...]", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="orchestrator-metrics-"))
    try:
        return ProcessGroup(command, directory).run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
