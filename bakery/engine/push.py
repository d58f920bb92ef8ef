"""Pushing tags to registries, concurrently, with the digest each one got.

Used by ``bakery push`` and by ``bakery build --push`` (which calls it only
after every requested target has built, so that a failed release publishes
nothing). Blocking docker calls run in worker threads under a limiter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker.credentials.errors
import docker.errors
import trio

from bakery.core.errors import BakeryError, Outcome
from bakery.engine.registry import HELPER_HINT


class PushFailed(BakeryError):
    """A registry refused a tag, or could not be reached."""

    outcome = Outcome.FAILED


@dataclass(frozen=True)
class PushOutcome:
    target: str
    tag: str
    digest: str | None = None
    error: str | None = None
    hint: str | None = None


def split_tag(ref: str) -> tuple[str, str]:
    """``registry:5000/name:tag`` -> (``registry:5000/name``, ``tag``); no tag: latest."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return ref, "latest"
    return name, tag


def push_one(client: Any, ref: str) -> str:
    """Push one tag; return the digest the registry reported. Raises PushFailed."""
    repo, tag = split_tag(ref)
    digest = None
    try:
        for message in client.push(repo, tag=tag, stream=True, decode=True):
            if "error" in message:
                raise PushFailed(
                    f"cannot push {ref}: {message['error']}",
                    where=ref,
                    hint=_hint(str(message["error"])),
                )
            aux = message.get("aux") or {}
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
    except docker.errors.APIError as err:
        raise PushFailed(
            f"cannot push {ref}: {err.explanation or err}", where=ref, hint=_hint(str(err))
        ) from None
    except (
        docker.credentials.errors.StoreError,
        docker.errors.DockerException,
    ) as err:  # a credential helper that cannot answer
        raise PushFailed(
            f"cannot push {ref}: cannot get registry credentials ({err})",
            where=ref,
            hint=HELPER_HINT,
        ) from None
    if digest is None:
        raise PushFailed(f"the registry gave no digest for {ref}", where=ref)
    return digest


def _hint(message: str) -> str:
    lowered = message.lower()
    if "denied" in lowered or "unauthorized" in lowered or "authentication" in lowered:
        return "log in to the registry with `docker login REGISTRY`"
    if "no such host" in lowered or "connection refused" in lowered or "dial tcp" in lowered:
        return "check that the registry in the tag is reachable from the Docker daemon"
    return "check the tag's registry and your access to it"


async def push_all(
    client: Any,
    tags: Mapping[str, Sequence[str]],
    *,
    jobs: int = 4,
) -> list[PushOutcome]:
    """Push every tag of every target, repositories at once (up to ``jobs``), the
    tags of each in turn; one outcome per tag."""
    limiter = trio.CapacityLimiter(max(1, jobs))
    outcomes: list[PushOutcome] = []

    async def one(target: str, ref: str) -> None:
        try:
            digest = await trio.to_thread.run_sync(push_one, client, ref, limiter=limiter)
        except PushFailed as err:
            outcomes.append(PushOutcome(target, ref, error=str(err.message), hint=err.hint))
        else:
            outcomes.append(PushOutcome(target, ref, digest=digest))

    # The tags of one repository go one after another: pushed at once, they
    # race for the same blobs, and a registry may answer "blob unknown".
    by_repo: dict[str, list[tuple[str, str]]] = {}
    for target, refs in tags.items():
        for ref in refs:
            by_repo.setdefault(split_tag(ref)[0], []).append((target, ref))

    async def repository(entries: list[tuple[str, str]]) -> None:
        for target, ref in entries:
            await one(target, ref)

    async with trio.open_nursery() as nursery:
        for entries in by_repo.values():
            nursery.start_soon(repository, entries)
    order = {(t, r): i for i, (t, r) in enumerate((t, r) for t, refs in tags.items() for r in refs)}
    return sorted(outcomes, key=lambda o: order[o.target, o.tag])


def missing_images(client: Any, tags: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(target, tag) pairs whose tag is not on the daemon: targets not built yet."""
    missing = []
    for target, refs in tags.items():
        for ref in refs:
            try:
                client.inspect_image(ref)
            except docker.errors.ImageNotFound:
                missing.append((target, ref))
    return missing
