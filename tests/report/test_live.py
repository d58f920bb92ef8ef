"""The live view in a real terminal: ``bakery build`` in a 100-column tmux
pane, captured while it runs and at the end (as docs/report.md shows it)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.engine.dockerutil import write_tree
from tests.report.walkthrough import files

pytestmark = [
    pytest.mark.docker,
    # scripts/test installs tmux; in CI a missing tmux fails instead of skipping.
    pytest.mark.skipif(
        shutil.which("tmux") is None and os.environ.get("CI") != "true",
        reason="needs tmux (scripts/test installs it)",
    ),
]


class Pane:
    """One tmux server of the test's own (its own socket), one 100x30 pane."""

    def __init__(self, cwd: Path, command: str) -> None:
        self.socket = f"bakery-test-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm-256color"}
        env.pop("TMUX", None)
        self._tmux(
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "-c",
            str(cwd),
            f"{command}; echo bakery-exit=$?; sleep 600",
            env=env,
        )

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=True,
            text=True,
            capture_output=True,
            env=env,
            timeout=30,
        ).stdout

    def capture(self) -> str:
        return "\n".join(line.rstrip() for line in self._tmux("capture-pane", "-p").splitlines())

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], check=False, capture_output=True, timeout=30
        )


RUNNING = re.compile(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (\S+) +\d+\.\ds(?:  (.*))?$", re.M)


def test_live_view_in_a_terminal(prefix: str, tmp_path: Path) -> None:
    write_tree(tmp_path, files(prefix, sleep=1.5, part=0.5))
    # A nonce, so that no earlier run's cache makes this one a no-op.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "WORKDIR /src", f"WORKDIR /src\nRUN echo {uuid.uuid4().hex} > /nonce", 1
        )
    )
    command = f"{shlex.quote(sys.executable)} -m bakery build --builder buildkit"
    pane = Pane(tmp_path, command)
    captures = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.25)
            captures.append(pane.capture())
            if "bakery-exit=" in captures[-1]:
                break
    finally:
        pane.close()
    final = captures[-1]
    assert "bakery-exit=0" in final, final
    running = [dict(RUNNING.findall(c)) for c in captures]
    # While it ran: the shared base alone with its log line, then both compile stages at once.
    assert any(r.get("shared/base") == "go: downloading modules" for r in running), captures
    assert any({"client/build-client", "server/build-server"} <= set(r) for r in running)
    assert any(re.search(r"^\d/5 stages done, \d running, \d+\.\ds$", c, re.M) for c in captures)
    # At the end: no running line, one folded line per stage, the report.
    assert not RUNNING.search(final)
    for label in (
        "shared/base",
        "client/build-client",
        "client/client",
        "server/build-server",
        "server/server",
    ):
        assert re.search(rf"^✓ {label} +\d+\.\ds$", final, re.M), final
    assert re.search(rf"^client  {prefix}-client:latest +\d\.\d MB +new +1 ", final, re.M), final
    assert "shared         base: 2 targets (client, server), built in" in final
    assert "critical path  base -> build-" in final
