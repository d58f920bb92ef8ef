"""``bakery prune``: remove bakery's intermediate stage images, and nothing else.

What is bakery's own: every tag under its repository (``bakery-stage``), and
untagged images labelled ``dev.bakery.role=stage`` and ``dev.bakery.repo`` with
that repository (intermediate images whose tag a later build moved). A
target's image that also carries a stage tag only loses that tag. An image a
container still uses is left, and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker.errors

from bakery.engine.labels import REPO_LABEL, ROLE_LABEL, STAGE_REPO


@dataclass
class PruneResult:
    removed: list[str] = field(default_factory=list)  # tags and image IDs removed
    untagged: list[str] = field(default_factory=list)  # stage tags taken off kept images
    kept: list[tuple[str, str]] = field(default_factory=list)  # (ref, why)
    reclaimed: int = 0  # bytes, as the daemon counts image sizes


def prune(client: Any) -> PruneResult:
    """Remove bakery's stage images from the daemon ``client`` talks to."""
    result = PruneResult()
    for image in client.images(name=STAGE_REPO):
        # The listing filtered by repository shows only that repository's tags.
        every = client.inspect_image(image["Id"]).get("RepoTags") or []
        stage_tags = [t for t in every if t.startswith(STAGE_REPO + ":")]
        others = [t for t in every if t not in stage_tags]
        for i, tag in enumerate(stage_tags):
            last = not others and i == len(stage_tags) - 1
            if _remove(client, tag, result):
                if last:
                    result.removed.append(tag)
                    result.reclaimed += int(image.get("Size") or 0)
                else:
                    result.untagged.append(tag)
    dangling = client.images(
        filters={"dangling": True, "label": [f"{ROLE_LABEL}=stage", f"{REPO_LABEL}={STAGE_REPO}"]}
    )
    for image in dangling:
        if _remove(client, image["Id"], result):
            result.removed.append(image["Id"])
            result.reclaimed += int(image.get("Size") or 0)
    return result


def _remove(client: Any, ref: str, result: PruneResult) -> bool:
    try:
        client.remove_image(ref, noprune=False)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as err:
        result.kept.append((ref, str(err.explanation or err)))
        return False
    return True
