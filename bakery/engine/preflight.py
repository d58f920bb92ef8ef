"""What is checked and fetched before anything is built, so that a run does not
fail part-way through for a reason known at the start."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping

from bakery.core.config import Target
from bakery.core.errors import ConfigError
from bakery.core.plan import TARGET_PREFIX, Plan
from bakery.engine.backend import BuildFailed
from bakery.engine.images import ImageUnavailable
from bakery.engine.registry import explain_pull_failure
from bakery.engine.reuse import DOCKER_IMAGE_PREFIX
from bakery.engine.session.agents import check_sources
from bakery.engine.session.services import MAX_SECRET_SIZE
from bakery.engine.specs import output_dest


def check(
    plan: Plan,
    builder: str,
    allow: Collection[str] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Entitlements not granted, folders that must exist, targets BuildKit cannot
    name, outputs that cannot be written, secrets and agents that cannot be had.
    Raises ConfigError (or AgentError)."""
    environ = os.environ if environ is None else environ
    for name, planned in plan.targets.items():
        target = planned.target
        where = f"target.{name}"
        _check_session_sources(name, target, builder, environ)
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


def _check_session_sources(
    name: str, target: Target, builder: str, environ: Mapping[str, str]
) -> None:
    where = f"target.{name}"
    if builder != "buildkit" and (target.secrets or target.ssh):
        what = "secret" if target.secrets else "ssh"
        raise ConfigError(
            f"{what} needs BuildKit: the classic builder cannot pass secrets or SSH agents",
            where=where,
            hint="build with --builder buildkit (or auto on a daemon with BuildKit)",
        )
    for secret in target.secrets:
        env = secret.env if secret.env is not None else secret.id if secret.fallback else None
        size = None
        if env is not None and env in environ:
            size = len(environ[env].encode("utf-8", "surrogateescape"))
        elif secret.src is not None and secret.env is None and os.path.isfile(secret.src):
            size = os.path.getsize(secret.src)
        if size is not None and size > MAX_SECRET_SIZE:
            raise ConfigError(
                f'secret "{secret.id}" is {size // 1024} KiB, more than the '
                f"{MAX_SECRET_SIZE // 1024} KiB BuildKit takes",
                where=where,
                hint="mount a smaller secret (a token, a key), and fetch larger files with it",
            )
        if size is not None:
            continue
        if secret.src is not None and secret.env is None:
            problem = (
                f"neither the variable {secret.id} nor the file {secret.src} exists"
                if secret.fallback
                else f"no file {secret.src}"
                if not os.path.lexists(secret.src)
                else f"{secret.src} is not a regular file"
            )
        else:
            problem = f"the variable {env} is not set"
        raise ConfigError(
            f'secret "{secret.id}": {problem}',
            where=where,
            hint="a secret comes from a file (src=) or an environment variable (env=)",
        )
    check_sources(target.ssh, environ, where=where)


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
            message, hint = explain_pull_failure(err.explanation, image) or (
                f"cannot pull {image}: {err.explanation}",
                err.hint or "check the image name and that its registry is reachable",
            )
            raise BuildFailed(
                message,
                where=f"target.{name}",
                hint=f"{hint}; or build without --pull / pull = true to use the local image",
            ) from None


def _parents(path: str) -> list[str]:
    """The folders above ``path``, nearest first (as written: relative stays relative)."""
    out = []
    head = os.path.dirname(os.path.normpath(path))
    while head and head not in out:
        out.append(head)
        head = os.path.dirname(head)
    return out
