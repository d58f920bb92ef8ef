"""The connection to the Docker daemon: finding it, naming it, and stopping a stream.

The daemon is found exactly as the docker SDK finds it (``DOCKER_HOST``,
``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``, else the default socket), so that
bakery builds where ``docker`` and docker-py would. A daemon that does not
answer is one ``DaemonUnreachable`` naming where bakery looked, with a hint.

The backends use these helpers, and ``bakery.engine.daemon`` picks among the
backends: this module imports neither, so that nothing imports in a circle.
It does not build and does not print.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import warnings
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.utils
import requests

from bakery.engine.backend import DaemonUnreachable

__all__ = [
    "PING_TIMEOUT",
    "abort_response",
    "connect",
    "daemon_address",
    "unreachable",
]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# A ping answers in milliseconds; waiting the full request timeout for a
# daemon that is not there only delays the error.
PING_TIMEOUT = 10


def connect(timeout: float = 60.0, *, environ: Mapping[str, str] | None = None) -> Any:
    """A ``docker.APIClient`` for the daemon the environment names, known to answer.

    Typed ``Any`` as the rest of the engine takes it: the SDK's stubs leave most of
    ``APIClient``'s methods untyped, which strict callers could not call.
    ``timeout`` bounds each ordinary request; builds stream without a read timeout.
    Raises ``DaemonUnreachable``.
    """
    # The SDK warns through Python's warnings of a credential helper it cannot run;
    # bakery says so itself, as an error of the pull or build that needs it.
    warnings.filterwarnings("ignore", category=UserWarning, module="docker.credentials")
    env = dict(os.environ if environ is None else environ)
    kwargs = docker.utils.kwargs_from_env(environment=env) if env else {}
    where = _describe_host(kwargs.get("base_url"))
    try:
        # version="auto" asks the daemon for its API version: the first request,
        # and the proof that it answers (no ping needed on top).
        client: Any = docker.APIClient(version="auto", timeout=PING_TIMEOUT, **kwargs)
    except (docker.errors.DockerException, requests.RequestException, OSError) as err:
        raise unreachable(where, err) from None
    client.timeout = timeout
    return client


def daemon_address(client: Any) -> str:
    """Where ``client`` talks to, as a user would write it: ``unix:///path``, ``tcp://...``."""
    base_url = str(getattr(client, "base_url", ""))
    try:
        adapter = client.get_adapter(base_url)
    except Exception:  # requests raises InvalidSchema for unmounted schemes
        adapter = None
    socket_path = getattr(adapter, "socket_path", None)
    if socket_path:
        return f"unix://{socket_path}"
    ssh_host = getattr(adapter, "ssh_host", None)
    if ssh_host:
        return f"ssh://{ssh_host}"
    return base_url or DEFAULT_SOCKET


def unreachable(where: str, err: BaseException) -> DaemonUnreachable:
    """The error for a daemon that did not answer at ``where`` because of ``err``."""
    cause = _root_os_error(err)
    path = where[len("unix://") :] if where.startswith("unix://") else None
    if path is not None and isinstance(cause, FileNotFoundError | NotADirectoryError):
        reason = "no such socket"
        hint = (
            "start the Docker daemon (dockerd, or scripts/ensure-engine), "
            "or set DOCKER_HOST to where it listens"
        )
    elif path is not None and isinstance(cause, PermissionError):
        reason = "permission denied"
        hint = f"run bakery as a user allowed to use {path} (the docker group, or root)"
    elif isinstance(cause, ConnectionRefusedError) or (
        cause is not None and cause.errno == errno.ECONNREFUSED
    ):
        reason = "connection refused"
        hint = (
            "the Docker daemon is not running there: start it (dockerd, or "
            "scripts/ensure-engine), or check DOCKER_HOST"
        )
    else:
        reason = _short(err)
        hint = (
            "check DOCKER_HOST and, for TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; "
            "is the Docker daemon running there?"
        )
    return DaemonUnreachable(f"cannot reach the Docker daemon at {where} ({reason})", hint=hint)


def abort_response(response: Any) -> None:
    """Stop a streaming HTTP response from any thread.

    Shutting the socket down makes the daemon see the client go, which cancels the
    request's work (the build), and wakes the thread blocked reading it with an
    end of stream; that thread then closes the response itself.
    """
    connection = getattr(getattr(response, "raw", None), "connection", None)
    sock = getattr(connection, "sock", None)
    shutdown = getattr(sock, "shutdown", None)
    if shutdown is None:
        response.close()
        return
    with contextlib.suppress(OSError):  # already closed by the peer: nothing left to stop
        shutdown(socket.SHUT_RDWR)


# -- helpers -----------------------------------------------------------------------


def _describe_host(base_url: str | None) -> str:
    if not base_url:
        return DEFAULT_SOCKET
    if base_url.startswith("http+unix://"):
        return "unix://" + base_url[len("http+unix://") :]
    return base_url


def _root_os_error(err: BaseException) -> OSError | None:
    """The OSError at the bottom of requests' and urllib3's wrappers, if any."""
    seen: set[int] = set()
    stack: list[object] = [err]
    found: OSError | None = None
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        # requests and urllib3 errors are OSErrors too: keep looking for the deepest.
        if isinstance(item, OSError) and (
            item.errno is not None or type(item).__module__ == "builtins"
        ):
            found = item
        stack.extend([item.__cause__, item.__context__, *item.args])
        reason = getattr(item, "reason", None)
        if reason is not None:
            stack.append(reason)
    return found


def _short(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."
