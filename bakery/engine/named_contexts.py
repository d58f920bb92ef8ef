"""Named contexts (``contexts = { name = ... }``) as the images a build names.

``target:NAME`` is that target's stage image, ``docker-image://REF`` the image
itself, and a folder becomes an image of its files, made once per run by the
classic builder (which hides its Dockerfile from ``COPY``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from bakery.core.plan import TARGET_PREFIX, Node, Plan
from bakery.engine.backend import BuildSpec, ProgressEvent
from bakery.engine.labels import folder_labels, stage_tag
from bakery.engine.reuse import DOCKER_IMAGE_PREFIX
from bakery.engine.snapshots import Snapshots
from bakery.engine.specs import hidden_dockerfile
from bakery.engine.threaded import Builder

__all__ = ["NamedContexts"]


class NamedContexts:
    def __init__(
        self,
        plan: Plan,
        snapshots: Snapshots,
        folder_builder: Builder,
        progress: Callable[[ProgressEvent], None],
    ) -> None:
        self.plan = plan
        self.snapshots = snapshots
        self.folder_builder = folder_builder
        self.progress = progress
        self._folders: dict[str, str] = {}

    async def ref(self, node: Node, name: str) -> str:
        """The image the context ``name`` of ``node``'s target stands for."""
        value = node.target.contexts[name]
        if value.startswith(TARGET_PREFIX):
            return stage_tag(self.plan.targets[value[len(TARGET_PREFIX) :]].node)
        if value.startswith(DOCKER_IMAGE_PREFIX):
            return value[len(DOCKER_IMAGE_PREFIX) :]
        if value not in self._folders:
            self._folders[value] = await self._folder_image(value)
        return self._folders[value]

    async def _folder_image(self, path: str) -> str:
        """A folder used as a named context becomes an image of its files."""
        snapshot = await self.snapshots.of_folder(path)
        name, ignore = hidden_dockerfile(snapshot)
        extra = {name: b"FROM scratch\nCOPY . /\n", ".dockerignore": ignore}
        tag = stage_tag(f"context-{hashlib.sha256(path.encode()).hexdigest()[:12]}")
        spec = BuildSpec(
            context=snapshot.stream(extra=extra), tag=tag, dockerfile=name, labels=folder_labels()
        )
        await self.folder_builder.build(spec, self.progress)
        return tag
