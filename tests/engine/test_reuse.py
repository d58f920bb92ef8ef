"""Stage reuse against the real daemon: a second build of unchanged sources makes
no build call at all, and an edit rebuilds exactly the stages that read it."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import docker
import pytest

from bakery import cli
from bakery.engine.buildkit import BuildKitBackend
from bakery.engine.classic import ClassicBackend
from tests.engine.dockerutil import inspect, write_tree
from tests.engine.test_build import SHARED_TOML

pytestmark = pytest.mark.docker
BUILDERS = ["classic", "buildkit"]

WALKTHROUGH = """\
FROM bakery-busybox:latest AS base
WORKDIR /src
COPY common.txt .
RUN echo {nonce} > /nonce && cat common.txt > /base

FROM base AS build-client
COPY client.txt .
RUN cp client.txt /client

FROM base AS build-server
COPY server.txt .
RUN cp server.txt /server

FROM bakery-busybox:latest AS client
COPY --from=build-client /client /bin/client

FROM bakery-busybox:latest AS server
COPY --from=build-server /server /bin/server
"""

TOML = SHARED_TOML  # the walkthrough's two targets, as in test_build


@pytest.fixture
def project(tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    write_tree(
        tmp_path,
        {
            "Dockerfile": WALKTHROUGH.format(nonce=uuid.uuid4().hex),
            "bake.toml": TOML.format(prefix=prefix),
            "common.txt": "common\n",
            "client.txt": "client\n",
            "server.txt": "server\n",
            ".dockerignore": "notes.txt\n",
            "notes.txt": "not sent\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    # The stage repository is read when the runner is imported, which may have been
    # before this test's cleanup fixture named the test's own repository.
    with mock.patch("bakery.engine.labels.STAGE_REPO", f"{prefix}-stages"):
        yield tmp_path


@contextmanager
def counting_builds() -> Iterator[list[str]]:
    """The tag of every build the backends are asked for. mock.patch: the one place
    that sees each daemon build is the backend's build method (a proxy on the
    socket would see the same calls, at much more cost); the call goes through."""
    tags: list[str] = []
    real: dict[Any, Any] = {
        ClassicBackend: ClassicBackend.build,
        BuildKitBackend: BuildKitBackend.build,
    }

    def wrap(cls: Any) -> Any:
        def build(self: Any, spec: Any, progress: Any, cancel: Any) -> Any:
            tags.append(spec.tag)
            return real[cls](self, spec, progress, cancel)

        return build

    with (
        mock.patch.object(ClassicBackend, "build", wrap(ClassicBackend)),
        mock.patch.object(BuildKitBackend, "build", wrap(BuildKitBackend)),
    ):
        yield tags


def build(builder: str, *extra: str) -> tuple[dict[str, Any], list[str]]:
    """``bakery build`` in-process: the JSON report, and which plan nodes were sent
    to the daemon (the node id a build's stage tag names)."""
    out = io.StringIO()
    with counting_builds() as tags:
        code = cli.main(
            ["build", "--builder", builder, "--progress", "quiet", "--report", "json", *extra],
            stdout=out,
            stderr=io.StringIO(),
        )
    report = json.loads(out.getvalue())
    assert code == 0, report
    return report, [t.rpartition(":")[2] for t in tags]


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {n["stage"]: n["status"] for n in report["nodes"]}


def stages(report: dict[str, Any], node_ids: list[str]) -> set[str]:
    names = {n["id"]: n["stage"] for n in report["nodes"]}
    return {names[i] for i in node_ids}


@pytest.mark.parametrize("builder", BUILDERS)
def test_second_build_makes_no_build_call(
    client: docker.DockerClient,
    prefix: str,
    project: Path,
    builder: str,
) -> None:
    first, sent = build(builder)
    assert sent, "the first build builds"
    assert "built" in statuses(first).values()

    second, sent = build(builder)
    assert sent == []
    assert set(statuses(second).values()) == {"cached"}
    assert {t["name"]: t["status"] for t in second["targets"]} == {
        "client": "cached",
        "server": "cached",
    }
    for target in second["targets"]:
        assert target["image_id"] == target["previous_image_id"]
        (tag,) = target["tags"]
        assert inspect(client, tag)["Id"] == target["image_id"]
        labels = inspect(client, tag)["Config"]["Labels"]
        assert len(labels["dev.bakery.key"]) == 64

    # The table says so too, and the digests of the context were kept for next time.
    assert (project / ".bakery" / "context-digests.json").is_file()
    third, sent = build(builder, "--no-cache")
    assert sent, "--no-cache builds again"
    assert "built" in set(statuses(third).values())


@pytest.mark.parametrize("builder", BUILDERS)
def test_an_edit_rebuilds_only_what_reads_it(
    client: docker.DockerClient,
    prefix: str,
    project: Path,
    builder: str,
) -> None:
    build(builder)
    edited = f"server, edited {uuid.uuid4().hex}\n"
    (project / "server.txt").write_text(edited)
    report, sent = build(builder)
    if builder == "classic":
        assert sorted(stages(report, sent)) == ["build-server", "server"]
        rebuilt = {s for s, status in statuses(report).items() if status != "cached"}
        assert rebuilt == {"build-server", "server"}
    else:
        # One build per target: BuildKit gets the server target, and reports its
        # stages from its own cache; nothing of the client's is sent.
        assert stages(report, sent) == {"server"}
        assert statuses(report)["build-server"] == "built"
        assert {s: statuses(report)[s] for s in ("base", "build-client", "client")} == {
            "base": "cached",
            "build-client": "cached",
            "client": "cached",
        }
    out = client.containers.run(f"{prefix}-server:latest", ["cat", "/bin/server"], remove=True)
    assert out == edited.encode()
    assert {t["name"]: t["status"] for t in report["targets"]} == {
        "client": "cached",
        "server": "built",
    }

    # A file .dockerignore leaves out changes nothing.
    (project / "notes.txt").write_text("edited, still not sent\n")
    report, sent = build(builder)
    assert sent == []
    assert set(statuses(report).values()) == {"cached"}


@pytest.mark.parametrize("builder", BUILDERS)
def test_an_image_made_from_a_bakery_image_is_never_reused(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    """It inherits the key label; only the image bakery's stage tag names counts."""
    from tests.engine.dockerutil import bakery

    write_tree(
        tmp_path,
        {
            "Dockerfile": f"FROM bakery-busybox:latest\nCOPY a.txt /a\nRUN echo {prefix}\n",
            "a.txt": "one\n",
            "bake.toml": f'[target.app]\ntags = ["{prefix}-app"]\n',
        },
    )
    assert bakery(tmp_path, "build", "--builder", builder).returncode == 0
    derived = tmp_path / "derived"
    write_tree(derived, {"Dockerfile": f"FROM {prefix}-app\nRUN echo derived > /evil\n"})
    client.images.build(path=str(derived), tag=f"{prefix}-derived", rm=True)
    # Change, build, change back: the key is the first build's again, and the
    # newest image carrying it is the derived one.
    (tmp_path / "a.txt").write_text("two\n")
    assert bakery(tmp_path, "build", "--builder", builder).returncode == 0
    (tmp_path / "a.txt").write_text("one\n")
    run = bakery(tmp_path, "build", "--builder", builder)
    assert run.returncode == 0, run.stderr
    files = client.containers.run(f"{prefix}-app", ["ls", "/"], remove=True).decode().split()
    assert "evil" not in files
    assert "a" in files
