"""A failed pull as one message naming the image and its registry, from the
words of either builder (as this daemon, Docker 20.10, says them)."""

from __future__ import annotations

import pytest

from bakery.engine.registry import explain_pull_failure, metadata_image, normalize, registry_of

BK = "failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
IMAGE = "127.0.0.1:5055/team/base:1"


@pytest.mark.parametrize(
    ("message", "image", "says", "hint"),
    [
        (
            BK + "pulling from host 127.0.0.1:5055 failed with status code [manifests 1]: "
            "401 Unauthorized",
            IMAGE,
            "the registry 127.0.0.1:5055 refused access (wrong or missing credentials)",
            "docker login 127.0.0.1:5055",
        ),
        (
            "unauthorized: authentication required",
            IMAGE,
            "refused access",
            "docker login 127.0.0.1:5055",
        ),
        (
            BK + "127.0.0.1:5055/team/nope:1: not found",
            None,
            "cannot pull 127.0.0.1:5055/team/nope:1: the registry 127.0.0.1:5055 has no such",
            "check the image's name and tag",
        ),
        (
            "manifest for 127.0.0.1:5055/team/nope:1 not found: manifest unknown: manifest unknown",
            None,
            "has no such image",
            "name and tag",
        ),
        (
            BK + 'failed to do request: Head "http://127.0.0.1:5099/v2/team/base/manifests/1": '
            "dial tcp 127.0.0.1:5099: connect: connection refused",
            "127.0.0.1:5099/team/base:1",
            "the registry 127.0.0.1:5099 does not answer (connection refused)",
            "reachable",
        ),
        (
            (
                "pull access denied for private/app, repository does not exist or may require "
                "'docker login': denied: requested access to the resource is denied"
            ),
            None,
            "cannot pull private/app: the registry docker.io has no such image",
            "a private image needs `docker login`",
        ),
    ],
)
def test_pull_failures(message: str, image: str | None, says: str, hint: str) -> None:
    explained = explain_pull_failure(message, image)
    assert explained is not None
    assert says in explained[0]
    assert hint in explained[1]


def test_other_failures_are_left_as_they_are() -> None:
    assert explain_pull_failure("executor failed running [/bin/sh -c exit 3]", IMAGE) is None
    assert explain_pull_failure("executor failed: exit code: 1", None) is None


def test_references() -> None:
    assert registry_of("golang:1.21") == "docker.io"
    assert registry_of("myorg/app") == "docker.io"
    assert registry_of("localhost/app") == "localhost"
    assert registry_of(IMAGE) == "127.0.0.1:5055"
    assert normalize("golang:1.21-alpine") == "docker.io/library/golang:1.21-alpine"
    assert normalize("myorg/app") == "docker.io/myorg/app:latest"
    assert normalize(IMAGE) == IMAGE
    assert normalize("reg:5000/a@sha256:" + "0" * 64) == "reg:5000/a@sha256:" + "0" * 64
    assert metadata_image("[internal] load metadata for " + IMAGE) == IMAGE
    assert metadata_image("[a 1/2] RUN x") is None
