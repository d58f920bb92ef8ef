"""The labels and tags bakery puts on the images it makes.

One repository holds every intermediate image (``bakery-stage:<node id>``);
``BAKERY_STAGE_REPO`` names another, to keep two bakery setups that share one
daemon apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

STAGE_REPO = os.environ.get("BAKERY_STAGE_REPO", "bakery-stage")
REPO_LABEL = "dev.bakery.repo"  # on stage images: the repository above
NODE_LABEL = "dev.bakery.node"  # the plan node an image was built for
ROLE_LABEL = "dev.bakery.role"  # "stage": an intermediate image; "image": a target's image
KEY_LABEL = "dev.bakery.key"  # the stage key (bakery.core.keys) of what the image was built from


def stage_tag(node_id: str) -> str:
    return f"{STAGE_REPO}:{node_id}"


def node_labels(node_id: str, *, image: bool, key: str | None) -> dict[str, str]:
    """bakery's labels for the image of ``node_id``. Children inherit labels, so
    each build sets them all again; an empty key overrides the parent's."""
    return {
        NODE_LABEL: node_id,
        ROLE_LABEL: "image" if image else "stage",
        REPO_LABEL: STAGE_REPO,
        KEY_LABEL: key or "",
    }


def label_line(labels: Mapping[str, str], escape: str = "\\") -> str:
    """``LABEL "k"="v" ...``, quoted so that no value is expanded or split."""

    def quote(text: str) -> str:
        body = "".join(escape + c if c in ('"', "$", escape) else c for c in text)
        return f'"{body}"'

    return "LABEL " + " ".join(f"{quote(k)}={quote(v)}" for k, v in labels.items())


def folder_labels() -> dict[str, str]:
    """bakery's labels for the image of a folder used as a named context."""
    return {NODE_LABEL: "context", ROLE_LABEL: "stage", REPO_LABEL: STAGE_REPO}
