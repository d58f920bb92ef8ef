"""Fixtures for the backend tests: a low-level client, build contexts, and cleanup
by label, so that only what a test made is removed, whatever else runs on the
daemon meanwhile."""

from __future__ import annotations

import contextlib
import gc
import io
import tarfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import docker.errors
import pytest

TEST_LABEL = "dev.bakery.test"


def make_context(files: Mapping[str, str]) -> bytes:
    """A build context tar in GNU format (BuildKit misreads PAX) holding ``files``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def api(docker_client: Any, busybox_image: str) -> Any:
    """The low-level ``APIClient`` of the session's daemon, with the busybox image made."""
    return docker_client.api


@pytest.fixture
def owned(api: Any, unique_name: str) -> Iterator[str]:
    """``unique_name``, and afterwards the removal of every image labelled
    ``dev.bakery.test=<unique_name>`` (intermediate ones included) and every tag
    starting with it. Put ``LABEL dev.bakery.test=<unique_name>`` right after FROM."""
    yield unique_name

    def remove(ref: str) -> None:
        # It may be gone already, with a child, or never have been made.
        with contextlib.suppress(docker.errors.APIError):
            api.remove_image(ref, force=True)

    for image in api.images(all=True):
        for tag in image.get("RepoTags") or ():
            if tag.startswith(unique_name):
                remove(tag)
    labelled = api.images(all=True, filters={"label": f"{TEST_LABEL}={unique_name}"})
    # Newest first, so that children go before the parents they hold.
    for image in sorted(labelled, key=lambda i: i.get("Created", 0), reverse=True):
        remove(image["Id"])


@pytest.fixture
def containers_with(api: Any) -> Callable[[str], list[dict[str, Any]]]:
    """Containers (running or not) whose command or labels mention a marker."""

    def find(marker: str) -> list[dict[str, Any]]:
        return [
            c
            for c in api.containers(all=True)
            if marker in str(c.get("Command", "")) or marker in str(c.get("Labels", ""))
        ]

    return find


@pytest.fixture
def no_daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DOCKER_HOST names a socket that does not exist."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    yield "/nonexistent.sock"
    # The SDK's UnixHTTPConnection.connect() does not close its socket when the
    # connect fails; collect it here, where its ResourceWarning is expected,
    # rather than at some later test under -W error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
