"""Shared fixtures: the Docker daemon, the busybox base image, cleanup.

Tests marked ``docker`` talk to a real daemon. They run by default; without a
daemon they are skipped, except under ``CI=true``, where a missing daemon is a
failure: tests against the real daemon are the proof that bakery works.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUSYBOX_TAG = "bakery-busybox:latest"


def _daemon_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A docker SDK client for the daemon the environment names."""
    if not _daemon_answers():
        message = "no Docker daemon answers (run scripts/ensure-engine)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    import docker

    client = docker.from_env(timeout=300)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client: object) -> str:
    """The tag of a ~2 MB shell image made FROM scratch with static busybox."""
    made = subprocess.run(
        [str(ROOT / "scripts" / "busybox-image"), BUSYBOX_TAG],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.fail(f"scripts/busybox-image failed:\n{made.stdout}{made.stderr}", pytrace=False)
    return BUSYBOX_TAG


@pytest.fixture
def unique_name() -> str:
    """A short name no other test or user uses, for tags and repositories."""
    return f"bakery-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(docker_client: docker.DockerClient, busybox_image: str) -> docker.DockerClient:
    """The daemon's client, with the busybox base image made."""
    return docker_client


@pytest.fixture
def prefix(client: docker.DockerClient) -> Iterator[str]:
    """A unique tag prefix; every image made during the test is removed after it."""
    from tests.engine.dockerutil import cleanup_images

    name = f"bakery-test-{uuid.uuid4().hex[:8]}"
    with cleanup_images(client, name):
        yield name


@contextlib.contextmanager
def _serve_registry(folder: Path, htpasswd: Path | None = None) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port, storing under ``folder``;
    with ``htpasswd``, it asks for basic auth. Yields ``127.0.0.1:PORT``."""
    import shutil
    import socket
    import time
    import urllib.error
    import urllib.request

    binary = shutil.which("docker-registry")
    if binary is None:
        message = "no docker-registry (scripts/test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "config.yml"
    auth = f"auth:\n  htpasswd:\n    realm: bakery-test\n    path: {htpasswd}\n" if htpasswd else ""
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"{auth}"
        "log:\n  level: error\n"
    )
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # 401: it answers, and asks for credentials
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the registry did not answer: {(folder / 'registry.log').read_text()}")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[str]:
    """A registry of the test session's own on loopback (Debian's docker-registry):
    its address, ``127.0.0.1:PORT``. The daemon pushes to loopback without TLS."""
    with _serve_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@dataclasses.dataclass(frozen=True)
class AuthRegistry:
    address: str
    user: str
    password: str


@pytest.fixture(scope="session")
def auth_registry(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[AuthRegistry]:
    """A loopback registry that asks for basic auth, its password file made with
    ``htpasswd`` (Debian's apache2-utils, which scripts/test installs)."""
    import secrets
    import shutil

    if shutil.which("htpasswd") is None:
        message = "no htpasswd (apache2-utils; scripts/test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("auth-registry")
    password = secrets.token_hex(8)
    made = subprocess.run(
        ["htpasswd", "-Bbn", "bakery", password], capture_output=True, text=True, check=True
    )
    (folder / "htpasswd").write_text(made.stdout)
    with _serve_registry(folder, folder / "htpasswd") as address:
        yield AuthRegistry(address, "bakery", password)


# The conformance suites, by test function: how many cases of each kind ran.
_CONFORMANCE = {
    "test_dockerfile_conformance.py::test_dump_matches_reference": "parser/testfiles",
    "test_dockerfile_conformance.py::test_rejected_like_reference": "parser/testfiles-negative",
    "test_shell_conformance.py::test_env_var": "shell/envVarTest (A and U)",
    "test_shell_conformance.py::test_words": "shell/wordsTest",
    "test_real_world.py::test_every_stage_plans": (
        "real-world Dockerfiles (files, every stage as a target)"
    ),
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: dict[str, list[int]] = {}
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call":
                continue
            for key, kind in _CONFORMANCE.items():
                if key in report.nodeid:
                    entry = counts.setdefault(kind, [0, 0])
                    entry[0 if outcome == "passed" else 1] += 1
    if counts:
        terminalreporter.section("BuildKit conformance")
        for kind in _CONFORMANCE.values():
            if kind in counts:
                ok, bad = counts[kind]
                terminalreporter.write_line(f"{kind}: {ok} cases passed, {bad} cases failed")
