"""What the report needs to know of the images, asked of the daemon once after
the run: the size and layers of each target's new image and of the image its
first tag pointed to before the run. The engine answers; this module only says
which images and turns the answers into the report's facts.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakery.core.plan import Plan
from bakery.engine.events import RunResult
from bakery.report.summary import ImageSize, ImageSizes


def images_to_inspect(plan: Plan, result: RunResult) -> list[str]:
    """The image IDs the report shows: each target's new image and its first
    tag's image before the run."""
    wanted: list[str] = []
    for name, target in result.targets.items():
        if target.image_id:
            wanted.append(target.image_id)
        tags = plan.targets[name].target.tags if name in plan.targets else target.tags
        previous = target.previous.get(tags[0]) if tags else None
        if previous:
            wanted.append(previous)
    return list(dict.fromkeys(wanted))


def image_sizes(sizes: Mapping[str, tuple[int, int]]) -> ImageSizes:
    """The report's facts from each image's (size, layers); a missing image shows ``-``."""
    return ImageSizes(images={i: ImageSize(size=s, layers=n) for i, (s, n) in sizes.items()})
