"""The registry cache: stage images kept in a registry under their stage keys.

``[cache] repo = "REGISTRY/NAME"`` (or ``--cache-repo``): after a node is
built, its image is pushed as ``NAME:<stage key>``; before a node whose key is
not on the daemon is built, the registry is asked for that tag (one manifest
request, ``GET /distribution/NAME:KEY/json`` through the daemon, which knows
the registry's TLS settings and mirrors) and, when it is there, the image is
pulled instead. A pulled image whose ``dev.bakery.key`` label is not the key
is never used. The daemon does every registry request, with the credentials
of the docker config, as ``docker pull`` and ``docker push`` would.

Blocking: the runner calls these in worker threads.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

import docker.credentials.errors
import docker.errors
import requests

from bakery.engine.labels import KEY_LABEL

__all__ = ["Cache", "CacheMiss", "Pulled", "RegistryCache"]


# What the daemon (or the SDK on its way there) raises when a registry request fails.
_ERRORS = (
    docker.errors.DockerException,
    docker.credentials.errors.StoreError,
    requests.RequestException,
)


class CacheMiss(Exception):
    """The registry had no usable image for a key (its reason, for a warning)."""


@dataclass(frozen=True)
class Pulled:
    image_id: str
    size: int  # bytes of the image, as the daemon counts them


class Cache(Protocol):
    """Where stage images are kept by key (a fake one in tests)."""

    repo: str

    def ref(self, key: str) -> str: ...
    def has(self, key: str) -> bool: ...
    def pull(self, key: str) -> Pulled: ...
    def forget(self, key: str) -> None: ...
    def push(self, image_id: str, key: str) -> None: ...


class RegistryCache:
    def __init__(self, client: Any, repo: str) -> None:
        self.client = client
        self.repo = repo

    def ref(self, key: str) -> str:
        return f"{self.repo}:{key}"

    def has(self, key: str) -> bool:
        """Whether the registry holds the key's tag: one manifest request."""
        try:
            self.client.inspect_distribution(self.ref(key))
        except docker.errors.NotFound:
            return False
        except _ERRORS as err:
            raise CacheMiss(_reason(err)) from None
        return True

    def pull(self, key: str) -> Pulled:
        """The key's image, pulled and checked. Raises CacheMiss."""
        ref = self.ref(key)
        try:
            self.client.pull(self.repo, tag=key)
            info = self.client.inspect_image(ref)
        except _ERRORS as err:
            self._untag(ref)
            raise CacheMiss(_reason(err)) from None
        labels = (info.get("Config") or {}).get("Labels") or {}
        if labels.get(KEY_LABEL) != key:
            # Not bakery's image of this key (pushed by hand, or corrupted): drop it.
            self._untag(ref)
            raise CacheMiss(f"{ref} does not carry the stage key it is tagged with")
        # The caller tags it as bakery's stage image, then calls forget().
        return Pulled(str(info["Id"]), int(info.get("Size") or 0))

    def push(self, image_id: str, key: str) -> None:
        """Push ``image_id`` as the key's tag. Raises CacheMiss with the reason."""
        ref = self.ref(key)
        try:
            self.client.tag(image_id, self.repo, key, force=True)
            for message in self.client.push(self.repo, tag=key, stream=True, decode=True):
                if "error" in message:
                    raise CacheMiss(str(message["error"]))
        except _ERRORS as err:
            raise CacheMiss(_reason(err)) from None
        finally:
            # The daemon keeps the image under bakery's stage tag; the cache tag
            # would only clutter `docker images`.
            self._untag(ref)

    def forget(self, key: str) -> None:
        """Drop the cache's tag from the daemon once the image has bakery's own."""
        self._untag(self.ref(key))

    def _untag(self, ref: str) -> None:
        with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
            self.client.remove_image(ref, noprune=True)


def _reason(err: BaseException) -> str:
    explanation = getattr(err, "explanation", None)
    text = str(explanation or err).strip() or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."
