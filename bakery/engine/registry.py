"""Image references and what a registry's refusal means, as one message.

A pull fails for three reasons a user can act on: the registry refuses the
credentials (or asks for some and none were given), it has no such image, or
it does not answer. Each builder words them its own way (BuildKit:
``pulling from host H failed with status code [manifests T]: 401
Unauthorized``, ``H/NAME:T: not found``, ``dial tcp H: connect: connection
refused``; the classic builder and ``docker pull``: ``unauthorized:
authentication required``, ``manifest unknown``, ``pull access denied``).
``explain_pull_failure`` turns any of them into one message naming the image
and the registry, with the hint that fits: ``docker login REGISTRY`` for
credentials. Pure.
"""

from __future__ import annotations

import re

__all__ = ["HELPER_HINT", "explain_pull_failure", "metadata_image", "normalize", "registry_of"]

DOCKER_HUB = "docker.io"
HELPER_HINT = (
    "install the credential helper, or remove credsStore / credHelpers from "
    "$DOCKER_CONFIG/config.json"
)
METADATA_STEP = "[internal] load metadata for "

_DENIED = re.compile(
    r"\b401\b|unauthorized|authentication required|pull access denied|"
    r"no basic auth credentials|denied: requested access|incorrect username or password",
    re.IGNORECASE,
)
_MISSING = re.compile(
    r"manifest unknown|: not found\b|not found: manifest|name unknown|\b404\b|"
    r"repository does not exist",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"connection refused|no such host|i/o timeout|network is unreachable|"
    r"server misbehaving|connection reset|TLS handshake timeout|"
    r"server gave HTTP response to HTTPS client",
    re.IGNORECASE,
)


def registry_of(ref: str) -> str:
    """The registry a reference names: ``127.0.0.1:5000``, ``ghcr.io``, ``docker.io``."""
    first, slash, _rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def normalize(ref: str) -> str:
    """The full form BuildKit names images by: ``golang:1.21`` →
    ``docker.io/library/golang:1.21``; no tag or digest means ``:latest``."""
    registry = registry_of(ref)
    path = ref
    if registry == DOCKER_HUB:
        path = ref.removeprefix(DOCKER_HUB + "/")
        if "/" not in path.split("@", 1)[0].split(":", 1)[0]:
            path = "library/" + path
        path = f"{DOCKER_HUB}/{path}"
    name, at, digest = path.partition("@")
    last = name.rsplit("/", 1)[-1]
    if not at and ":" not in last:
        name += ":latest"
    return name + at + digest


def metadata_image(step: str | None) -> str | None:
    """The image of BuildKit's ``[internal] load metadata for IMAGE`` step."""
    if step and step.startswith(METADATA_STEP):
        return step[len(METADATA_STEP) :].strip()
    return None


def explain_pull_failure(message: str, image: str | None) -> tuple[str, str] | None:
    """``(message, hint)`` for a daemon's error that is a failed pull of ``image``
    (found in the message when not given), else None."""
    image = image or _image_in(message)
    if not image:
        return None
    registry = registry_of(image)
    login = "docker login" + ("" if registry == DOCKER_HUB else f" {registry}")
    if _DOWN.search(message):
        reason = _short_reason(message)
        return (
            f"cannot pull {image}: the registry {registry} does not answer ({reason})",
            (
                "check that the registry runs and is reachable from the Docker daemon; "
                "or use an image that is on the daemon already"
            ),
        )
    if _DENIED.search(message) and not _MISSING.search(message.replace("404", "")):
        return (
            (
                f"cannot pull {image}: the registry {registry} refused access "
                "(wrong or missing credentials)"
            ),
            (
                f"log in with `{login}` (bakery reads the docker CLI's config, "
                "$DOCKER_CONFIG/config.json)"
            ),
        )
    if _MISSING.search(message):
        denied = "pull access denied" in message.lower()
        return (
            f"cannot pull {image}: the registry {registry} has no such image",
            "check the image's name and tag"
            + (f"; a private image needs `{login}`" if denied or registry != DOCKER_HUB else ""),
        )
    return None


_REF = r"[a-z0-9][a-z0-9._:/-]*(?:@sha256:[a-f0-9]{64})?"


def _image_in(message: str) -> str | None:
    for pattern in (
        rf"manifest for ({_REF}) not found",
        rf"pull access denied for ({_REF})",
        rf"({_REF}): not found",
    ):
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    return None


def _short_reason(message: str) -> str:
    match = _DOWN.search(message)
    return match.group(0).lower() if match else "no answer"
