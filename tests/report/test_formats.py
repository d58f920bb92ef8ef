"""The JSON and Markdown forms of the report, and the schema docs/report.md documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bakery.report.formats import SCHEMA, SCHEMA_ID, render_markdown, report_json, write_json_atomic
from tests.report.scenarios import SCENARIOS, keep_going
from tests.report.schema import errors, fields

DOC = Path(__file__).resolve().parents[2] / "docs" / "report.md"


def doc_json_blocks() -> list[Any]:
    text = DOC.read_text()
    return [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```$", text, re.S | re.M)]


def test_the_documented_example_follows_the_schema() -> None:
    [example] = doc_json_blocks()
    assert errors(example, SCHEMA) == []
    assert example["schema"] == SCHEMA_ID


def test_the_documented_field_table_names_every_field_and_no_other() -> None:
    section = DOC.read_text().split("## The JSON report", 1)[1]
    documented = re.findall(r"^\| `([^`]+)` \|", section, re.M)
    assert sorted(documented) == sorted(fields(SCHEMA))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_report_follows_the_schema(scenario: str) -> None:
    doc = report_json(*SCENARIOS[scenario]())
    assert errors(doc, SCHEMA) == []
    # What a script reads is plain JSON.
    assert json.loads(json.dumps(doc)) == doc


def test_the_checker_catches_what_breaks_the_schema() -> None:
    doc = report_json(*keep_going())
    doc["targets"][0]["size"] = "5 MB"
    doc["nodes"][0]["extra"] = 1
    del doc["wall"]
    assert errors(doc, SCHEMA) == [
        "$: missing 'wall'",
        "$.targets[0].size: '5 MB' is not integer or null",
        "$.nodes[0]: unexpected 'extra'",
    ]


def test_json_of_a_partial_failure() -> None:
    doc = report_json(*keep_going())
    assert (doc["ok"], doc["interrupted"], doc["backend"]) == (False, False, "classic")
    assert doc["stage_counts"] == {
        "built": 3,
        "cached": 0,
        "pulled": 0,
        "failed": 1,
        "not_started": 2,
        "cancelled": 0,
        "shared": 1,
        "total": 6,
    }
    assert doc["critical_path"]["stages"] == ["base", "build-client", "client"]
    assert doc["critical_path"]["seconds"] == 51.0
    status = {t["name"]: (t["status"], t["reason"]) for t in doc["targets"]}
    assert status == {
        "client": ("built", None),
        "server": ("failed", "server/build-server failed"),
        "docs": ("not_started", "server/server did not build"),
    }
    client = doc["targets"][0]
    assert (client["size"], client["previous_size"], client["layers"]) == (5312000, 5190000, 2)
    assert client["pushed"] == []
    failed = next(n for n in doc["nodes"] if n["status"] == "failed")
    assert failed["stage"] == "build-server"
    assert (failed["start"], failed["end"], failed["seconds"]) == (20.0, 32.5, 12.5)
    assert failed["error"]["where"] == "Dockerfile:11"
    assert failed["error"]["exit_code"] == 1
    base = doc["nodes"][0]
    assert (base["label"], base["shared"], base["targets"]) == (
        "shared/base",
        True,
        ["client", "server"],
    )


MARKDOWN = """\
### bakery build: failed

| target | tags | size | change | layers | time | status |
| --- | --- | ---: | ---: | ---: | ---: | --- |
| client | `buildme-client:latest`<br>`localhost:5000/buildme-client:1.2.3` | 5.3 MB | +122.0 kB | 2 | 31.0s | built |
| server | `buildme-server:latest` | - | - | - | 12.5s | **failed at server/build-server** |
| docs | `buildme-docs:latest` | - | - | - | - | not started (server/server did not build) |

- **stages:** 3 built, 0 cached, 1 failed, 2 not started, of 6
- **shared:** `base` by 2 targets (client, server), built in 20.0s
- **time:** wall 51.3s, work 1m04s, parallelism 1.24
- **critical path:** base -> build-client -> client (51.0s)
- **builder:** classic

**✗ server: stage `build-server` failed at Dockerfile:11, exit code 1**

```
RUN go build -o /bin/server ./cmd/server
The command '/bin/sh -c go build -o /bin/server ./cmd/server' returned a non-zero code: 1
# example.com/buildme/cmd/server
cmd/server/main.go:9:2: undefined: serve
```
"""  # noqa: E501


def test_markdown_of_a_partial_failure() -> None:
    assert render_markdown(*keep_going()) == MARKDOWN


def test_markdown_of_an_interrupted_run_says_so() -> None:
    text = render_markdown(*SCENARIOS["interrupted"]())
    assert text.startswith("### bakery build: interrupted\n")
    assert text.endswith("**interrupted:** builds were stopped\n")
    row = (
        "| client | `buildme-client:latest`<br>`localhost:5000/buildme-client:1.2.3` "
        "| - | - | - | 7.0s | cancelled (interrupted) |"
    )
    assert row in text


def test_the_report_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    # A report that cannot be written leaves the old file, and no temporary one.
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
