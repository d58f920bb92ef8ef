"""``bakery build --report json`` and ``--report-file`` against the real daemon:
the report follows the documented schema, and its sizes and layers are the
daemon's own."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from bakery.report.formats import SCHEMA
from tests.engine.dockerutil import bakery, inspect, write_tree
from tests.report.schema import errors
from tests.report.walkthrough import files

pytestmark = pytest.mark.docker
BUILDERS = ["classic", "buildkit"]


def project(root: Path, prefix: str) -> Path:
    tree = files(prefix, sleep=0, part=0)
    # A nonce, so that no earlier run's cache makes this one a no-op.
    tree["Dockerfile"] = tree["Dockerfile"].replace(
        "WORKDIR /src", f"WORKDIR /src\nRUN echo {uuid.uuid4().hex} > /nonce", 1
    )
    return write_tree(root, tree)


def report(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    run = bakery(root, "build", "--progress", "plain", "--report", "json", *args)
    try:
        doc = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON document:\n{run.stdout}\n{run.stderr}")
    assert errors(doc, SCHEMA) == [], run.stderr
    return run.returncode, doc, run.stderr


@pytest.mark.parametrize("builder", BUILDERS)
def test_json_report_of_a_real_build(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # The report file goes outside the context, which `COPY . .` would otherwise change.
    root = project(tmp_path / "project", prefix)
    code, doc, err = report(root, "--builder", builder, "--report-file", "../report.json")
    assert code == 0, err
    assert json.loads((tmp_path / "report.json").read_text()) == doc
    assert (doc["ok"], doc["interrupted"], doc["backend"]) == (True, False, builder)
    assert [t["name"] for t in doc["targets"]] == ["client", "server"]
    for target in doc["targets"]:
        name = target["name"]
        assert target["status"] == "built"
        assert target["tags"] == [f"{prefix}-{name}:latest", f"localhost:5000/{prefix}-{name}:dev"]
        inspected = inspect(client, target["tags"][0])
        assert target["image_id"] == inspected["Id"]
        assert target["size"] == inspected["Size"]
        assert target["layers"] == len(inspected["RootFS"]["Layers"])
        assert (target["previous_image_id"], target["previous_size"]) == (None, None)
        assert target["pushed"] == []
        assert len(target["stages"]) == 3
    shared = [n for n in doc["nodes"] if n["shared"]]
    assert [(n["stage"], n["targets"]) for n in shared] == [("base", ["client", "server"])]
    assert doc["stage_counts"]["total"] == 5
    assert doc["critical_path"]["stages"][0] == "base"
    assert doc["critical_path"]["seconds"] <= doc["wall"]
    # Time is never counted twice: own times plus the shared stage make the work.
    own = sum(t["seconds"] for t in doc["targets"])
    assert own + shared[0]["seconds"] == pytest.approx(doc["work"], abs=0.01)

    # Again, with nothing changed: the tags stay, and the report compares with them.
    code, again, err = report(root, "--builder", builder)
    assert code == 0, err
    for before, after in zip(doc["targets"], again["targets"], strict=True):
        if builder == "buildkit":
            assert after["status"] == "cached", [(n["stage"], n["status"]) for n in again["nodes"]]
        assert after["previous_image_id"] == before["image_id"]
        assert after["previous_size"] == before["size"]
    if builder == "buildkit":
        assert again["stage_counts"]["cached"] == 5


def test_json_report_of_a_partial_failure(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
) -> None:
    root = project(tmp_path, prefix)
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            'echo "compiling server/$p"', 'echo "compiling server/$p"; exit 3', 1
        )
    )
    code, doc, err = report(root, "--keep-going")
    assert code == 1
    assert doc["ok"] is False
    status = {t["name"]: t["status"] for t in doc["targets"]}
    assert status == {"client": "built", "server": "failed"}
    [failed] = [n for n in doc["nodes"] if n["status"] == "failed"]
    assert failed["stage"] == "build-server"
    assert failed["error"]["exit_code"] == 3
    assert failed["error"]["where"] == "Dockerfile:13"  # its RUN, below the nonce line
    # The failure block goes to standard error, last.
    tail = err.strip().splitlines()[-8:]
    assert any("build-server failed at Dockerfile:13, exit code 3" in line for line in tail), err


def test_markdown_and_no_report_keep_standard_output_for_the_report(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
) -> None:
    root = project(tmp_path, prefix)
    run = bakery(root, "build", "--progress", "plain", "--report", "markdown")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("### bakery build: ok\n\n| target | tags |")
    assert f"| client | `{prefix}-client:latest`<br>" in run.stdout
    assert "[shared/base]" in run.stderr
    run = bakery(root, "build", "--progress", "quiet", "--report", "none")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_a_report_file_without_its_folder_is_an_error_before_building(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"Dockerfile": "FROM bakery-busybox:latest\nRUN exit 1\n", "bake.toml": "[target.app]\n"},
    )
    run = bakery(tmp_path, "build", "--report-file", "missing/report.json")
    assert run.returncode == 2
    assert run.stderr.startswith("error: --report-file: no folder 'missing' for the report file")
    assert run.stdout == ""
