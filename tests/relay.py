"""A TCP-to-Unix-socket relay: ``python -m tests.relay HOST:PORT SOCKET``.

Run inside a network namespace (``nsenter --net=...``), it makes a registry
that listens on a Unix socket reachable as ``127.0.0.1:PORT`` there: every
daemon, in whatever namespace, then names the registry alike, on loopback
(where Docker needs no TLS).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def serve(address: str, path: str) -> None:
    host, _, port = address.rpartition(":")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        upstream = socket.socket(socket.AF_UNIX)
        try:
            upstream.connect(path)
        except OSError:
            conn.close()
            continue
        threading.Thread(target=_pipe, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
