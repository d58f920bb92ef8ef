"""What the report needs to ask the daemon, asked once after the run.

The render functions stay pure; this is the one place of the report layer that
talks to the daemon: the size and layers of each target's new image and of the
image its first tag pointed to before the run.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from bakery.core.plan import Plan
from bakery.engine.events import RunResult
from bakery.report.summary import Facts, ImageFacts


def gather_facts(client: Any, plan: Plan, result: RunResult) -> Facts:
    """Inspect the images the report shows. ``client`` is a docker SDK ``APIClient``.

    An image the daemon no longer has (removed meanwhile) is left out: the
    report shows ``-`` rather than failing after the build is done."""
    wanted: list[str] = []
    for name, target in result.targets.items():
        if target.image_id:
            wanted.append(target.image_id)
        tags = plan.targets[name].target.tags if name in plan.targets else target.tags
        previous = target.previous.get(tags[0]) if tags else None
        if previous:
            wanted.append(previous)
    images: dict[str, ImageFacts] = {}
    for image_id in dict.fromkeys(wanted):
        try:
            info = client.inspect_image(image_id)
        except docker.errors.APIError:
            continue
        layers = (info.get("RootFS") or {}).get("Layers") or ()
        images[image_id] = ImageFacts(size=int(info.get("Size") or 0), layers=len(layers))
    return Facts(images=images)
