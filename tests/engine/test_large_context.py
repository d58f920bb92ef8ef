"""A 1 GiB context on the real daemon: sent in blocks (peak memory far below
its size), and Ctrl-C during its upload stops at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from tests.engine.dockerutil import containers, write_tree

pytestmark = pytest.mark.docker

GIB = 1 << 30
# Peak resident memory of a child, measured by a process of its own.
MEASURE = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:]).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
    "sys.exit(code)"
)


def project(tmp_path: Path, prefix: str) -> str:
    nonce = uuid.uuid4().hex
    write_tree(
        tmp_path,
        {
            # The stage reads the big file through a bind mount: all of it is
            # sent, none of it lands in the image.
            "Dockerfile": "FROM bakery-busybox:latest\n"
            f"RUN --mount=type=bind,source=big,target=/big echo {nonce} && test -s /big\n",
            "bake.toml": f'[target.big]\ntags = ["{prefix}-big"]\n',
        },
    )
    with (tmp_path / "big").open("wb") as f:
        f.truncate(GIB)  # sparse: a GiB to read and send, none on this disk
    return nonce


def test_a_1_gib_context_is_sent_in_little_memory(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    project(tmp_path, prefix)
    bakery = [sys.executable, "-m", "bakery", "build", "--builder", "buildkit"]
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, *bakery, "--progress", "quiet", "--report", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    peak_kib = int(run.stdout.strip().splitlines()[-1])
    assert peak_kib < 100 * 1024, f"peak {peak_kib / 1024:.0f} MiB"
    assert client.images.get(f"{prefix}-big")


def test_ctrl_c_during_the_upload_stops_at_once(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    nonce = project(tmp_path, prefix)
    env = {**os.environ, "NO_COLOR": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "bakery", "build", "--builder", "buildkit", "--progress", "plain"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        # The key is computed first (the file read once), then the upload reads
        # it again: past 1.2 GiB read, the upload is under way.
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.communicate()
            fields = dict(
                line.split(": ") for line in Path(f"/proc/{proc.pid}/io").read_text().splitlines()
            )
            if int(fields["rchar"]) > GIB + 200 * (1 << 20):
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 1, f"took {took:.2f}s to stop"
    assert "Traceback" not in err
    assert containers(client, nonce) == set()
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{prefix}-big")
