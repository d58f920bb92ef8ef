"""Extra Docker daemons for tests, each in a network namespace of its own.

A second dockerd in the main network namespace takes the first one's bridge
away (it deletes ``docker0`` at start-up); in a namespace of its own it makes
its own and harms no one. The daemon's socket is a file, reachable from the
main namespace. ``nsenter --net`` is used rather than ``ip netns exec``, which
remounts /sys and hides the cgroups dockerd needs.

A registry may run inside the namespace too, on the namespace's loopback: the
daemon there reaches it as ``127.0.0.1:PORT`` (no TLS needed), and bakery
reaches the registry only through that daemon.

Everything is removed afterwards: the daemon (stopped by its own pid), what
its data root left mounted, the registry, the namespace and the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import docker
import pytest

START_TIMEOUT = 60.0


@dataclass
class NetnsDaemon:
    """One extra daemon: its ``DOCKER_HOST`` value and a client for it."""

    name: str
    folder: Path
    host: str
    process: subprocess.Popen[bytes]
    registries: list[subprocess.Popen[bytes]]
    logs: list[TextIO]

    @property
    def netns(self) -> str:
        return f"/var/run/netns/{self.name}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=300)

    def load(self, image: str) -> None:
        """Copy ``image`` from the main daemon (``docker save | docker load``)."""
        main = docker.from_env(timeout=300)
        data = b"".join(main.images.get(image).save(named=True))
        with contextlib.closing(self.client()) as client:
            client.images.load(data)
        main.close()

    def registry(self) -> str:
        """A registry on the namespace's loopback: its ``127.0.0.1:PORT``."""
        port = 5000 + len(self.registries)
        folder = self.folder / f"registry-{port}"
        folder.mkdir()
        (folder / "config.yml").write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
            "log:\n  level: error\n"
        )
        log = (folder / "log").open("w")
        self.logs.append(log)
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net={self.netns}",
                "docker-registry",
                "serve",
                str(folder / "config.yml"),
            ],
            stdout=log,
            stderr=log,
        )
        self.registries.append(process)
        address = f"127.0.0.1:{port}"
        # Asked from inside the namespace: its loopback is not the main one's.
        probe = [
            "nsenter",
            f"--net={self.netns}",
            sys.executable,
            "-c",
            "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)",
            f"http://{address}/v2/",
        ]
        for _ in range(100):
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return address
            time.sleep(0.1)
        pytest.fail(f"the registry in {self.name} did not answer: {(folder / 'log').read_text()}")

    def relay(self, address: str, socket_path: str) -> None:
        """Make ``address`` (``127.0.0.1:PORT``) in the namespace lead to ``socket_path``."""
        self.registries.append(start_relay(address, socket_path, netns=self.netns))

    def stop(self) -> None:
        """Kill the daemon now, as a crash would (its socket stays, unanswered)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_relay(
    address: str, socket_path: str, *, netns: str | None = None
) -> subprocess.Popen[bytes]:
    """``python -m tests.relay`` in ``netns`` (or here), once it listens."""
    enter = ["nsenter", f"--net={netns}"] if netns else []
    process = subprocess.Popen(
        [*enter, sys.executable, "-m", "tests.relay", address, socket_path],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        process.kill()
        pytest.fail(f"the relay to {socket_path} did not start")
    process.stdout.close()
    return process


@contextlib.contextmanager
def shared_registry(folder: Path) -> Iterator[tuple[str, str]]:
    """A registry on a Unix socket, and a relay to it on this namespace's loopback:
    ``(127.0.0.1:PORT, socket path)``. Daemons in other namespaces reach it at
    the same address through ``NetnsDaemon.relay``."""
    sock = folder / "registry.sock"
    (folder / "registry.yml").write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'registry'}\n"
        f"http:\n  net: unix\n  addr: {sock}\n"
        "log:\n  level: error\n"
    )
    with (folder / "registry.log").open("w") as log:
        registry = subprocess.Popen(
            ["docker-registry", "serve", str(folder / "registry.yml")], stdout=log, stderr=log
        )
        relay = None
        try:
            for _ in range(100):
                if sock.exists():
                    break
                time.sleep(0.05)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                address = f"127.0.0.1:{probe.getsockname()[1]}"
            relay = start_relay(address, str(sock))
            yield address, str(sock)
        finally:
            for process in (relay, registry):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)


def _require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing or os.geteuid() != 0:
        message = f"extra daemons need root and {', '.join(tools)}" + (
            f" (missing: {', '.join(missing)})" if missing else ""
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@contextlib.contextmanager
def netns_daemon() -> Iterator[NetnsDaemon]:
    """A dockerd of the test's own in a namespace of its own, answering."""
    _require("ip", "nsenter", "dockerd", "docker-registry")
    name = f"bakery-test-{uuid.uuid4().hex[:8]}"
    # Short: a Unix socket path has a bound of about 100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="bkd-"))
    subprocess.run(["ip", "netns", "add", name], check=True)
    daemon: NetnsDaemon | None = None
    try:
        subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{name}", "ip", "link", "set", "lo", "up"],
            check=True,
        )
        log = (folder / "dockerd.log").open("w")
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/var/run/netns/{name}",
                "dockerd",
                "--host",
                f"unix://{folder}/d.sock",
                "--data-root",
                str(folder / "data"),
                "--exec-root",
                str(folder / "exec"),
                "--pidfile",
                str(folder / "dockerd.pid"),
            ],
            stdout=log,
            stderr=log,
        )
        daemon = NetnsDaemon(name, folder, f"unix://{folder}/d.sock", process, [], [log])
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(folder / "d.sock"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "dockerd.log").read_text()[-2000:]
                pytest.fail(f"dockerd in {name} did not start: {tail}")
            time.sleep(0.25)
        yield daemon
    finally:
        if daemon is not None:
            for registry in daemon.registries:
                registry.terminate()
                registry.wait(timeout=10)
            if daemon.process.poll() is None:
                daemon.process.terminate()
                try:
                    daemon.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    daemon.stop()
            for opened in daemon.logs:
                opened.close()
        _unmount_below(folder)
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _answers(path: Path) -> bool:
    """Whether a daemon answers ``GET /_ping`` on the socket (the SDK's client,
    made against a socket that does not answer yet, leaks its connection)."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return sock.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except OSError:
        return False


def _unmount_below(folder: Path) -> None:
    """Unmount what a daemon's data root left mounted (overlay layers, shm), deepest first."""
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts if f" {folder}" in line]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
