"""The bundled example, built as scripts/demo builds it, and run for real."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from tests.engine.dockerutil import bakery, cleanup_images

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "buildme"


def test_example_builds_two_small_images_that_talk(docker_client: docker.DockerClient) -> None:
    go_image = subprocess.run(
        [str(ROOT / "scripts" / "go-image")], check=True, capture_output=True, text=True
    ).stdout.strip()
    prefix = f"bakery-example-{uuid.uuid4().hex[:8]}"
    with cleanup_images(docker_client, prefix):
        run = bakery(
            EXAMPLE,
            "build",
            "all",
            "--var",
            f"GO_IMAGE={go_image}",
            "--set",
            f"client.tags={prefix}-client",
            "--set",
            f"server.tags={prefix}-server",
            "--progress",
            "plain",
            "--report",
            "json",
            timeout=600,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        report = {t["name"]: t for t in json.loads(run.stdout)["targets"]}
        for name in ("client", "server"):
            size = docker_client.images.get(f"{prefix}-{name}").attrs["Size"]
            assert report[name]["size"] == size
            assert size < 10_000_000, f"{name} is {size} bytes"
        # The shared base ran once, for both.
        shared = [n for n in json.loads(run.stdout)["nodes"] if len(n["targets"]) == 2]
        assert [n["stage"] for n in shared] == ["base"]
        network = docker_client.networks.create(prefix, internal=True)
        server = None
        try:
            server = docker_client.containers.run(
                f"{prefix}-server", detach=True, name=f"{prefix}-srv", network=prefix
            )
            out = docker_client.containers.run(
                f"{prefix}-client",
                ["-server", f"http://{prefix}-srv:8080", "-name", "bakery", "-retries", "50"],
                network=prefix,
                remove=True,
            )
            assert out.decode().strip() == "Hello, bakery!"
        finally:
            if server is not None:
                server.remove(force=True)
            network.remove()
