"""Fixtures for the report tests that build on the real daemon."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.engine.dockerutil import cleanup_images


@pytest.fixture
def client(docker_client: docker.DockerClient, busybox_image: str) -> docker.DockerClient:
    return docker_client


@pytest.fixture
def prefix(client: docker.DockerClient) -> Iterator[str]:
    """A unique tag prefix; every image made during the test is removed after it."""
    name = f"bakery-test-{uuid.uuid4().hex[:8]}"
    with cleanup_images(client, name):
        yield name
