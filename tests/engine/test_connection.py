"""Finding the Docker daemon: where bakery looks, and what it says when none answers."""

from __future__ import annotations

from typing import Any

import pytest

from bakery.engine.backend import DaemonUnreachable
from bakery.engine.connection import connect


def test_connect_names_where_it_looked(no_daemon: str) -> None:
    with pytest.raises(DaemonUnreachable, match=no_daemon) as caught:
        connect()
    assert "cannot reach the Docker daemon at unix:///nonexistent.sock" in str(caught.value)
    assert caught.value.hint is not None
    assert "scripts/ensure-engine" in caught.value.hint


def test_connect_with_a_refusing_tcp_port() -> None:
    with pytest.raises(DaemonUnreachable, match=r"tcp://127\.0\.0\.1:9 .*refused"):
        connect(environ={"DOCKER_HOST": "tcp://127.0.0.1:9"})


@pytest.mark.docker
def test_connect_finds_the_default_daemon(docker_client: Any) -> None:
    client = connect()
    try:
        assert client.ping()
    finally:
        client.close()
