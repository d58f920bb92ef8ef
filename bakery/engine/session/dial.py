"""Opening a session's connection: ``POST /session`` and the HTTP/2 upgrade.

The request names the session and every gRPC method bakery serves, one
``X-Docker-Expose-Session-Grpc-Method`` header each, as the docker CLI sends
them; the daemon answers ``101 Switching Protocols`` and from then on the
connection carries HTTP/2, the daemon as client. The connection goes where the
docker SDK's client goes: a Unix socket, or TCP with the client's TLS settings.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Iterable
from typing import Any

import trio

from bakery.engine.backend import DaemonUnreachable
from bakery.engine.connection import daemon_address, unreachable

__all__ = ["SessionRefused", "UnsupportedTransport", "can_dial", "dial_session"]

_MAX_HEAD = 64 * 1024
DIAL_TIMEOUT = 10.0


class SessionRefused(DaemonUnreachable):
    """The daemon answered ``POST /session`` with something other than an upgrade."""


class UnsupportedTransport(Exception):
    """The daemon is reached in a way bakery cannot open a session over (ssh://)."""


async def dial_session(
    client: Any, session_id: str, name: str, shared_key: str, methods: Iterable[str]
) -> tuple[trio.abc.Stream, bytes]:
    """The upgraded connection, and what was read past the daemon's answer."""
    where = daemon_address(client)
    request = _request(client, session_id, name, shared_key, methods)
    try:
        with trio.fail_after(DIAL_TIMEOUT):
            stream = await _connect(client, where)
            try:
                await stream.send_all(request)
                head, rest = await _read_head(stream)
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    except (OSError, trio.BrokenResourceError, trio.TooSlowError, ssl.SSLError) as err:
        raise unreachable(where, err) from None
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 101 " not in status + " ":
        await trio.aclose_forcefully(stream)
        body = rest.decode("utf-8", "replace").strip()
        raise SessionRefused(
            f"the Docker daemon at {where} refused a BuildKit session ({status.strip()}"
            + (f": {body[:200]}" if body else "")
            + ")",
            hint="BuildKit sessions need Docker 18.09 or later; --builder classic needs none",
        )
    return stream, rest


def _request(
    client: Any, session_id: str, name: str, shared_key: str, methods: Iterable[str]
) -> bytes:
    path = urllib.parse.urlsplit(client._url("/session")).path
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: docker",
        "User-Agent: bakery",
        "Content-Length: 0",
        "Connection: Upgrade",
        "Upgrade: h2c",
        f"X-Docker-Expose-Session-Uuid: {session_id}",
        f"X-Docker-Expose-Session-Name: {name}",
        f"X-Docker-Expose-Session-Sharedkey: {shared_key}",
        *(f"X-Docker-Expose-Session-Grpc-Method: {method}" for method in methods),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def can_dial(client: Any) -> bool:
    """Whether bakery can open a session to ``client``'s daemon: over a Unix
    socket or TCP, not (yet) over ``ssh://``."""
    if daemon_address(client).startswith("unix://"):
        return True
    url = urllib.parse.urlsplit(str(client.base_url))
    return url.scheme in ("http", "https", "tcp") and bool(url.hostname)


async def _connect(client: Any, where: str) -> trio.abc.Stream:
    if where.startswith("unix://"):
        return await trio.open_unix_socket(where[len("unix://") :])
    url = urllib.parse.urlsplit(str(client.base_url))
    if url.scheme in ("http", "https", "tcp") and url.hostname:
        port = url.port or (2376 if url.scheme == "https" else 2375)
        stream: trio.abc.Stream = await trio.open_tcp_stream(url.hostname, port)
        if url.scheme == "https":
            try:
                tls = trio.SSLStream(stream, _tls_context(client), server_hostname=url.hostname)
                await tls.do_handshake()
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
            stream = tls
        return stream
    raise UnsupportedTransport(where)


def _tls_context(client: Any) -> ssl.SSLContext:
    """The TLS settings the docker SDK's client uses: its CA and client certificate."""
    verify = getattr(client, "verify", True)
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = getattr(client, "cert", None)
    if isinstance(cert, tuple | list) and len(cert) == 2:
        context.load_cert_chain(cert[0], cert[1])
    elif isinstance(cert, str):
        context.load_cert_chain(cert)
    return context


async def _read_head(stream: trio.abc.Stream) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_HEAD:
            raise trio.BrokenResourceError("the daemon's answer has no end of headers")
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise trio.BrokenResourceError("the daemon closed the connection")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest
