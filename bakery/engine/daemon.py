"""Picks the builder to use on the Docker daemon: BuildKit or the classic builder.

``--builder auto`` takes BuildKit when the daemon offers it, else the classic
builder; a daemon without BuildKit asked for it is a ``ConfigError``. Finding
the daemon is ``bakery.engine.connection``'s, which the backends use too.

This module does not build and does not print.
"""

from __future__ import annotations

from typing import Any

import requests

from bakery.core.errors import ConfigError, did_you_mean
from bakery.engine.backend import Backend
from bakery.engine.buildkit import BuildKitBackend
from bakery.engine.classic import ClassicBackend
from bakery.engine.connection import PING_TIMEOUT, daemon_address, unreachable

__all__ = [
    "BUILDER_CHOICES",
    "BUILDKIT_MIN_API",
    "buildkit_supported",
    "pick_backend",
]

BUILDKIT_MIN_API = (1, 39)  # Docker 18.09, the first daemon with BuildKit
BUILDER_CHOICES = ("auto", "buildkit", "classic")


def buildkit_supported(client: Any) -> bool:
    """Whether the daemon runs BuildKit builds (``POST /build?version=2``).

    A daemon that says ``Builder-Version: 2`` in its ping does; otherwise a Linux
    daemon with API 1.39 or later does (Windows daemons have no BuildKit).
    """
    try:
        response = client.get(client.base_url + "/_ping", timeout=PING_TIMEOUT)
    except (requests.RequestException, OSError) as err:
        raise unreachable(daemon_address(client), err) from None
    headers = response.headers
    if headers.get("Builder-Version") == "2":
        return True
    os_type = (headers.get("Ostype") or "linux").lower()
    version = headers.get("Api-Version") or str(getattr(client, "api_version", "0"))
    return os_type == "linux" and _version(version) >= BUILDKIT_MIN_API


def pick_backend(client: Any, choice: str) -> Backend:
    """The backend for ``--builder auto|buildkit|classic`` on ``client``'s daemon."""
    if choice not in BUILDER_CHOICES:
        raise ConfigError(
            f'unknown builder "{choice}"{did_you_mean(choice, BUILDER_CHOICES)}',
            hint="use one of: " + ", ".join(BUILDER_CHOICES),
        )
    if choice == "classic":
        return ClassicBackend(client)
    if buildkit_supported(client):
        return BuildKitBackend(client)
    if choice == "buildkit":
        raise ConfigError(
            f"the Docker daemon at {daemon_address(client)} has no BuildKit "
            f"(it needs a Linux daemon with API {'.'.join(map(str, BUILDKIT_MIN_API))} or later)",
            hint="use --builder classic, or auto",
        )
    return ClassicBackend(client)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
