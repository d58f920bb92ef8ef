"""Helpers for tests against the real daemon: run bakery, build with plain
Docker as the oracle, read an image's files and config, and clean up."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import docker.utils.build

ROOT = Path(__file__).resolve().parents[2]


def bakery(
    cwd: Path,
    *args: str,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the bakery CLI as a user does, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "bakery", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
    )


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def context_tar(root: Path) -> bytes:
    """The folder as the docker CLI sends it: .dockerignore applied (by the docker
    SDK's own matcher, independent of bakery's), as a GNU tar (BuildKit misreads PAX)."""
    ignore = root / ".dockerignore"
    patterns = [p for p in ignore.read_text().splitlines() if p.strip()] if ignore.exists() else []
    included = sorted(docker.utils.build.exclude_paths(str(root), patterns, "Dockerfile"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in included:
            tar.add(root / name, arcname=name, recursive=False)
    return buf.getvalue()


def oracle_build(
    client: docker.DockerClient,
    root: Path,
    target: str | None,
    tag: str,
    *,
    buildkit: bool,
    build_args: Mapping[str, str] | None = None,
) -> str:
    """``docker build --target`` of the unmodified Dockerfile on the same daemon:
    the docker CLI's legacy builder, or the daemon's BuildKit. Returns the image ID."""
    if not buildkit:
        cmd = ["docker", "build", "-q", "-t", tag]
        if target:
            cmd += ["--target", target]
        for key, value in (build_args or {}).items():
            cmd += ["--build-arg", f"{key}={value}"]
        subprocess.run(
            [*cmd, str(root)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        return str(client.images.get(tag).id)
    api: Any = client.api  # the SDK's stubs leave APIClient's own methods untyped
    params: dict[str, Any] = {"t": tag, "rm": "1", "forcerm": "1", "version": "2"}
    if target:
        params["target"] = target
    if build_args:
        params["buildargs"] = json.dumps(dict(build_args))
    url = api._url("/build") + "?" + urllib.parse.urlencode(params)
    resp = api._post(
        url,
        data=context_tar(root),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=600,
    )
    resp.raise_for_status()
    log: list[str] = []
    with resp:
        for raw in resp.iter_lines():
            if not raw:
                continue
            msg = json.loads(raw)
            if "error" in msg:
                raise RuntimeError(f"oracle build failed: {msg['error']}\n" + "".join(log))
            log.append(str(msg.get("stream", "")))
    return str(client.images.get(tag).id)


def image_files(client: docker.DockerClient, image: str) -> dict[str, tuple[Any, ...]]:
    """Every path of the image's filesystem: type, mode, owner, and content digest."""
    container = client.containers.create(image, command=["/nonexistent"])
    try:
        data = b"".join(container.export())  # type: ignore[arg-type]
    finally:
        container.remove(force=True)
    out: dict[str, tuple[Any, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            name = member.name.rstrip("/")
            if name.split("/")[0] in ("dev", "proc", "sys", ".dockerenv") or name in (
                "etc/hosts",
                "etc/hostname",
                "etc/resolv.conf",
                "etc",
                ".",
            ):
                continue
            digest = ""
            if member.isfile():
                f = tar.extractfile(member)
                digest = hashlib.sha256(f.read() if f else b"").hexdigest()
            out[name] = (member.type, member.mode, member.uid, member.gid, member.linkname, digest)
    return out


CONFIG_KEYS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "OnBuild",
    "StopSignal",
    "Healthcheck",
    "Shell",
)


def inspect(client: docker.DockerClient, ref: str) -> dict[str, Any]:
    """``docker image inspect``, typed: the SDK's stubs leave it untyped."""
    api: Any = client.api
    return dict(api.inspect_image(ref))


def image_config(client: docker.DockerClient, image: str) -> dict[str, Any]:
    config = inspect(client, image)["Config"]
    out = {k: config.get(k) or None for k in CONFIG_KEYS}
    labels = {k: v for k, v in (out["Labels"] or {}).items() if not k.startswith("dev.bakery.")}
    out["Labels"] = labels or None
    return out


def containers(client: docker.DockerClient, marker: str) -> set[str]:
    """Containers, running or not, whose command mentions ``marker`` (a test's nonce):
    what a build of that test's steps left behind, whatever else runs on the daemon."""
    return {c["Id"] for c in client.api.containers(all=True) if marker in str(c.get("Command", ""))}


def remove_images(client: docker.DockerClient, *refs: str) -> None:
    """Remove tags (an image with other tags keeps them) or untagged images by ID."""
    for ref in refs:
        try:
            client.images.remove(ref, force=ref.startswith("sha256:"))
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            pass


@contextmanager
def cleanup_images(client: docker.DockerClient, prefix: str) -> Iterator[None]:
    """Give bakery a stage repository of the test's own (``PREFIX-stages``), then
    remove every tag whose name starts with ``prefix`` and the test's untagged stage
    images, and the untagged leftovers of builds that failed during the test:
    what the test made. (Only a build of someone else's failing at the same
    moment could lose its leftover too.)"""
    repo = f"{prefix}-stages"
    dangling_before = {i["Id"] for i in client.api.images(filters={"dangling": True})}
    saved = os.environ.get("BAKERY_STAGE_REPO")
    os.environ["BAKERY_STAGE_REPO"] = repo
    try:
        yield
    finally:
        if saved is None:
            del os.environ["BAKERY_STAGE_REPO"]
        else:
            os.environ["BAKERY_STAGE_REPO"] = saved
        # Removing a tag also removes the untagged parents only it held (the
        # classic builder's per-step images).
        for image in client.api.images():
            for tag in image.get("RepoTags") or []:
                if tag.rpartition("/")[2].startswith(prefix):  # registry/prefix-x:tag too
                    remove_images(client, tag)
        for image in client.api.images(
            filters={"dangling": True, "label": f"dev.bakery.repo={repo}"}
        ):
            remove_images(client, str(image["Id"]))
        # What a failed or stopped classic build leaves: its last step's image,
        # untagged. Those that appeared during the test are the test's.
        for image in client.api.images(filters={"dangling": True}):
            if image["Id"] not in dangling_before:
                remove_images(client, str(image["Id"]))


class SocketMeter:
    """A relay in front of the daemon's unix socket that counts what clients send
    through it: point ``DOCKER_HOST`` at ``url`` (bakery, the docker CLI).

    ``sent`` is every byte from clients to the daemon (request lines, headers and
    bodies: build contexts are most of it); ``builds`` counts build requests."""

    def __init__(self, folder: Path, daemon: str | None = None, *, tcp: bool = False) -> None:
        """With ``tcp``, the relay listens on a loopback TCP port instead (``tcp://``)."""
        host = daemon or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if not host.startswith("unix://"):
            raise ValueError(f"SocketMeter needs a unix socket daemon, not {host}")
        self.daemon = host[len("unix://") :]
        self.path = folder / "meter.sock"
        self.url = f"unix://{self.path}"
        self.sent = 0
        self.builds = 0
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._tcp = tcp

    def __enter__(self) -> SocketMeter:
        if self._tcp:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("127.0.0.1", 0))
            self.url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        else:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(self.path))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        with suppress(OSError):
            self.path.unlink()

    def reset(self) -> None:
        with self._lock:
            self.sent = self.builds = 0

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.daemon)
            threading.Thread(target=self._pipe, args=(conn, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, conn, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        tail = b""
        try:
            while data := src.recv(1 << 16):
                if counted:
                    # A request line may straddle two reads: look at the joint too.
                    window = tail + data
                    found = len(_BUILD_REQUEST.findall(window))
                    found -= len(_BUILD_REQUEST.findall(tail))
                    with self._lock:
                        self.sent += len(data)
                        self.builds += found
                    tail = data[-64:]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            if not counted:
                for s in (src, dst):
                    with suppress(OSError):
                        s.close()


_BUILD_REQUEST = re.compile(rb"POST /(?:v[0-9.]+/)?build\?")
