"""What is checked and fetched before anything is built, so that a run does not
fail part-way through for a reason known at the start."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection

from bakery.core.errors import ConfigError
from bakery.core.plan import TARGET_PREFIX, Plan
from bakery.engine.backend import BuildFailed
from bakery.engine.images import ImageUnavailable
from bakery.engine.reuse import DOCKER_IMAGE_PREFIX
from bakery.engine.specs import output_dest


def check(plan: Plan, builder: str, allow: Collection[str] = ()) -> None:
    """Entitlements not granted, folders that must exist, targets BuildKit cannot
    name, outputs that cannot be written. Raises ConfigError."""
    for name, planned in plan.targets.items():
        target = planned.target
        where = f"target.{name}"
        if target.network == "host" and "network.host" not in allow:
            raise ConfigError(
                'network = "host" needs the network.host entitlement',
                where=where,
                hint="grant it with --allow network.host, as docker buildx bake asks",
            )
        folders = [("context", target.context)] + [
            (f"contexts.{k}", v)
            for k, v in target.contexts.items()
            if not v.startswith((TARGET_PREFIX, DOCKER_IMAGE_PREFIX))
        ]
        for key, folder in folders:
            if not os.path.isdir(folder):
                raise ConfigError(
                    f"{key}: folder {folder} does not exist",
                    where=where,
                    hint="a context is a folder, relative to the bake file",
                )
        final = plan.nodes[planned.node].stage
        last = len(plan.nodes[planned.node].graph.stages) - 1
        if builder == "buildkit" and final.written_name is None and final.index != last:
            raise ConfigError(
                f"stage {final.index} has no name, so BuildKit cannot build it as a target",
                where=where,
                hint="name it (FROM ... AS name), or build with --builder classic",
            )
        if target.output and target.output.startswith("type=local"):
            dest = output_dest(target.output)
            # The folder, or the nearest of its parents that exists, must be a folder.
            blocker = next((p for p in (dest, *_parents(dest)) if os.path.lexists(p)), None)
            if blocker is not None and not os.path.isdir(blocker):
                raise ConfigError(
                    f"output: {blocker} exists and is not a folder",
                    where=where,
                    hint="name a folder for type=local",
                )


def images_to_pull(plan: Plan, *, pull_all: bool) -> dict[str, str]:
    """The external images to refresh first (``--pull``, or ``pull = true`` on a
    target), each with the first target that asks for it."""
    images: dict[str, str] = {}
    for name, planned in plan.targets.items():
        if pull_all or planned.target.pull:
            for node_id in planned.nodes:
                for image in plan.nodes[node_id].external_images:
                    images.setdefault(image, name)
    return images


def pull_all(wanted: dict[str, str], pull: Callable[[str], None]) -> None:
    """Pull each image; the first that fails is one error naming its target."""
    for image, name in wanted.items():
        try:
            pull(image)
        except ImageUnavailable as err:
            raise BuildFailed(
                f"cannot pull {image}: {err.explanation}",
                where=f"target.{name}",
                hint="check the image name and that its registry is reachable, "
                "or build without --pull / pull = true to use the local image",
            ) from None


def _parents(path: str) -> list[str]:
    """The folders above ``path``, nearest first (as written: relative stays relative)."""
    out = []
    head = os.path.dirname(os.path.normpath(path))
    while head and head not in out:
        out.append(head)
        head = os.path.dirname(head)
    return out
