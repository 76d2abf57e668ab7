"""`orchestrator run` at a real terminal (a pseudo-terminal): the approval question stays on
screen, since the live display stops while it asks."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from tests.cli.test_failures import ROOT, env_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def read_until(fd: int, needle: str | None, seen: list[str], timeout: float) -> str:
    """Read until ``needle`` is shown (None: until the program closes the terminal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:             # EIO: the other side has closed
                if needle is None:
                    return "".join(seen)
                break
            if needle is not None and needle in "".join(seen):
                return "".join(seen)
    raise AssertionError(f"{needle or 'the end'!r} not reached; the terminal had:\n{''.join(seen)}")


def quiet_for(fd: int, seconds: float) -> str:
    """What the program wrote in the next ``seconds`` (a live display redraws several times a second)."""
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            chunks.append(os.read(fd, 4096).decode(errors="replace"))
    return "".join(chunks)


def test_the_approval_question_is_asked_on_a_still_screen(tmp_path):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "run", "examples/approval.yaml"],
                            env=env_for(tmp_path, TERM="xterm", COLUMNS="100"), cwd=ROOT,
                            stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    seen: list[str] = []
    try:
        read_until(leader, "approve review?", seen, timeout=90)
        assert quiet_for(leader, 0.8) == ""                  # nothing draws over the question
        os.write(leader, b"y\r")
        read_until(leader, None, seen, timeout=60)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    text = ANSI.sub("", "".join(seen))
    assert "approved review" in text and '"status": "published"' in text
