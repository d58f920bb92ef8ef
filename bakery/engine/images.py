"""What bakery asks of a daemon's images: look up, tag, pull, export, measure.

One blocking call each, on a docker SDK ``APIClient``; the runner calls them in
worker threads. The report's sizes are asked here too, so that no other layer
talks to the daemon.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import docker.credentials.errors
import docker.errors
import requests

from bakery.engine.push import split_tag
from bakery.engine.registry import HELPER_HINT


class ImageUnavailable(Exception):
    """A pull failed; ``explanation`` is the daemon's word for why."""

    def __init__(self, explanation: str, hint: str | None = None) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.hint = hint


@dataclass(frozen=True)
class LabelledImage:
    id: str
    labels: dict[str, str]
    tags: tuple[str, ...]


class ImageStore(Protocol):
    """What the runner asks of the daemon's images (``Images`` on a real daemon)."""

    def image_id(self, ref: str) -> str | None: ...

    def base(self, ref: str) -> tuple[str, bool] | None: ...

    def tag(self, image_id: str, refs: tuple[str, ...]) -> None: ...

    def labelled(self, label: str) -> list[LabelledImage]: ...

    def pull(self, ref: str) -> None: ...

    def export(self, image_id: str, dest: Path) -> None: ...


class Images:
    """The images of one daemon."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def image_id(self, ref: str) -> str | None:
        """The ID ``ref`` names now, ``None`` when there is no such image."""
        if not ref:
            return None
        try:
            return str(self.client.inspect_image(ref)["Id"])
        except docker.errors.ImageNotFound:
            return None

    def base(self, ref: str) -> tuple[str, bool] | None:
        """An image's ID and whether it has ONBUILD triggers; ``None`` when absent.
        An empty name (``COPY --from=$UNSET``) names none: the daemon's build says
        what is wrong with it, as with ``docker build``."""
        if not ref:
            return None
        try:
            info = self.client.inspect_image(ref)
        except docker.errors.APIError:
            return None
        return str(info["Id"]), bool((info.get("Config") or {}).get("OnBuild"))

    def tag(self, image_id: str, refs: Iterable[str]) -> None:
        for ref in refs:
            repo, tag = split_tag(ref)
            self.client.tag(image_id, repo, tag, force=True)

    def labelled(self, label: str) -> list[LabelledImage]:
        """Every image that carries ``label``: one call."""
        return [
            LabelledImage(str(i["Id"]), dict(i.get("Labels") or {}), tuple(i.get("RepoTags") or ()))
            for i in self.client.images(filters={"label": label})
        ]

    def pull(self, ref: str) -> None:
        repo, tag = split_tag(ref)
        try:
            self.client.pull(repo, tag=tag)
        except docker.errors.APIError as err:
            raise ImageUnavailable(str(err.explanation or err)) from None
        except (docker.credentials.errors.StoreError, docker.errors.DockerException) as err:
            raise ImageUnavailable(
                f"cannot get registry credentials ({err})", hint=HELPER_HINT
            ) from None

    def sizes(self, image_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Size in bytes and layer count of each image; one the daemon no longer
        has (removed meanwhile) is left out, and all when the daemon is gone (the
        report then shows no sizes: the run's outcome matters more)."""
        out: dict[str, tuple[int, int]] = {}
        for image_id in dict.fromkeys(image_ids):
            try:
                info = self.client.inspect_image(image_id)
            except docker.errors.APIError:
                continue
            except requests.RequestException:
                break
            layers = (info.get("RootFS") or {}).get("Layers") or ()
            out[image_id] = (int(info.get("Size") or 0), len(layers))
        return out

    def export(self, image_id: str, dest: Path) -> None:
        """Write the files of an image into the folder ``dest`` (``type=local``):
        its layers from ``docker save``, applied in order, whiteouts included."""
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as saved:
            for chunk in self.client.get_image(image_id):
                saved.write(chunk)
            saved.seek(0)
            with tarfile.open(fileobj=saved) as image:
                manifest = image.extractfile("manifest.json")
                assert manifest is not None
                for layer_name in json.load(manifest)[0]["Layers"]:
                    layer = image.extractfile(layer_name)
                    assert layer is not None
                    with tarfile.open(fileobj=layer) as tar:
                        _apply_layer(tar, dest)


def _apply_layer(tar: tarfile.TarFile, dest: Path) -> None:
    keep = []
    for member in tar:
        parent, _, base = member.name.rstrip("/").rpartition("/")
        if base == ".wh..wh..opq":
            folder = dest / parent
            for child in folder.iterdir() if folder.is_dir() else ():
                _remove(child)
        elif base.startswith(".wh."):
            _remove(dest / parent / base[len(".wh.") :])
        else:
            target = dest / member.name
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            keep.append(member)
    tar.extractall(dest, members=keep, filter="tar")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
