"""The report as JSON (for release scripts) and as Markdown (for a CI job summary).

Both read the ``Summary`` the table reads, so that every form says the same
thing. ``SCHEMA`` is the JSON form's schema (a JSON Schema, draft 2020-12);
docs/report.md shows it with an example, and the tests hold both the example
and real runs to it. Adding a field is a compatible change; removing or
changing one gets a new ``schema`` value (``bakery.report/v2``). Pure, except
``write_json_atomic``, which writes a file so that readers never see half of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bakery.core.plan import Plan
from bakery.engine.backend import BuildFailed
from bakery.engine.events import RunResult, Status
from bakery.files import write_atomically
from bakery.report.summary import (
    ImageSizes,
    Summary,
    critical_text,
    human_seconds,
    human_size,
    size_change,
    stage_counts,
    status_text,
    summarize,
    target_time,
)

SCHEMA_ID = "bakery.report/v1"
STATUSES = [s.name.lower() for s in Status]  # built, cached, pulled, failed, not_started, ...

_NUMBER = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
_ID = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


SCHEMA: dict[str, Any] = _object(
    {
        "schema": {"const": SCHEMA_ID},
        "ok": {"type": "boolean"},
        "interrupted": {"type": "boolean"},
        "backend": {"type": "string"},
        "wall": _NUMBER,
        "work": _NUMBER,
        "parallelism": _NUMBER,
        "critical_path": _object(
            {
                "nodes": _STRINGS,
                "stages": _STRINGS,
                "seconds": _NUMBER,
            }
        ),
        "stage_counts": _object(dict.fromkeys([*STATUSES, "shared", "total"], _COUNT)),
        "targets": {
            "type": "array",
            "items": _object(
                {
                    "name": {"type": "string"},
                    "requested": {"type": "boolean"},
                    "status": {"enum": STATUSES},
                    "reason": {"type": ["string", "null"]},
                    "image_id": _ID,
                    "tags": _STRINGS,
                    "size": {"type": ["integer", "null"], "minimum": 0},
                    "previous_image_id": _ID,
                    "previous_size": {"type": ["integer", "null"], "minimum": 0},
                    "layers": {"type": ["integer", "null"], "minimum": 0},
                    "seconds": _NUMBER,
                    "stages": _STRINGS,
                    "daemon": {"type": ["string", "null"]},
                    "pushed": {
                        "type": "array",
                        "items": _object(
                            {
                                "tag": {"type": "string"},
                                "digest": {"type": "string"},
                            }
                        ),
                    },
                }
            ),
        },
        "nodes": {
            "type": "array",
            "items": _object(
                {
                    "id": {"type": "string"},
                    "stage": {"type": "string"},
                    "label": {"type": "string"},
                    "targets": _STRINGS,
                    "shared": {"type": "boolean"},
                    "status": {"enum": STATUSES},
                    "reason": {"type": ["string", "null"]},
                    "start": {"type": ["number", "null"], "minimum": 0},
                    "end": {"type": ["number", "null"], "minimum": 0},
                    "seconds": _NUMBER,
                    "pulled_bytes": {"type": ["integer", "null"], "minimum": 0},
                    "daemons": _STRINGS,
                    "error": {
                        "oneOf": [
                            {"type": "null"},
                            _object(
                                {
                                    "message": {"type": "string"},
                                    "where": {"type": ["string", "null"]},
                                    "step": {"type": ["string", "null"]},
                                    "exit_code": {"type": ["integer", "null"]},
                                    "log_tail": _STRINGS,
                                }
                            ),
                        ]
                    },
                }
            ),
        },
    }
)


def _status(status: Status) -> str:
    return status.name.lower()


def _seconds(value: float | None) -> float | None:
    # Run times are measured from the run's start; a clock read just before it
    # can come out a hair negative.
    return None if value is None else round(max(0.0, value), 3)


def _error(err: BuildFailed | None) -> dict[str, Any] | None:
    if err is None:
        return None
    return {
        "message": err.message,
        "where": err.where,
        "step": err.step,
        "exit_code": err.exit_status,
        "log_tail": list(err.log_tail),
    }


def summary_json(summary: Summary) -> dict[str, Any]:
    """The report as data, following ``SCHEMA``."""
    counts = {
        s: sum(1 for n in summary.nodes if n.status is status)
        for s, status in zip(STATUSES, Status, strict=True)
    }
    return {
        "schema": SCHEMA_ID,
        "ok": summary.ok,
        "interrupted": summary.interrupted,
        "backend": summary.backend,
        "wall": _seconds(summary.wall),
        "work": _seconds(summary.work),
        "parallelism": round(summary.parallelism, 3),
        "critical_path": {
            "nodes": list(summary.critical_path),
            "stages": [summary.node(n).stage for n in summary.critical_path],
            "seconds": _seconds(summary.critical_seconds),
        },
        "stage_counts": {
            **counts,
            "shared": sum(1 for n in summary.nodes if n.shared),
            "total": len(summary.nodes),
        },
        "targets": [
            {
                "name": t.name,
                "requested": t.requested,
                "status": _status(t.status),
                "reason": t.reason,
                "image_id": t.image_id,
                "tags": list(t.tags),
                "size": t.size,
                "previous_image_id": t.previous_image_id,
                "previous_size": t.previous_size,
                "layers": t.layers,
                "seconds": _seconds(t.seconds or 0.0),
                "stages": list(t.stages),
                "daemon": t.daemon,
                "pushed": [{"tag": p.tag, "digest": p.digest} for p in t.pushed],
            }
            for t in summary.targets
        ],
        "nodes": [
            {
                "id": n.id,
                "stage": n.stage,
                "label": n.label,
                "targets": list(n.targets),
                "shared": n.shared,
                "status": _status(n.status),
                "reason": n.reason,
                "start": _seconds(n.start),
                "end": _seconds(n.end),
                "seconds": _seconds(n.seconds),
                "pulled_bytes": n.pulled_bytes,
                "daemons": list(n.daemons),
                "error": _error(n.error),
            }
            for n in summary.nodes
        ],
    }


def report_json(plan: Plan, result: RunResult, facts: ImageSizes | None = None) -> dict[str, Any]:
    """The JSON report of one run."""
    return summary_json(summarize(plan, result, facts))


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` with ``write_atomically``, so that a reader
    sees the old file or the whole new one, never a part. Raises ``OSError``."""
    write_atomically(path, json.dumps(doc, indent=2) + "\n")


# -- Markdown ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render_markdown(plan: Plan, result: RunResult, facts: ImageSizes | None = None) -> str:
    """The report as a GitHub-flavoured Markdown table, fit for a CI job summary."""
    return summary_markdown(summarize(plan, result, facts))


def summary_markdown(summary: Summary) -> str:
    if summary.interrupted:
        verdict = "interrupted"
    elif summary.ok:
        verdict = "ok"
    else:
        verdict = "failed"
    lines = [
        f"### bakery build: {verdict}",
        "",
        "| target | tags | size | change | layers | time | status |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for t in summary.targets:
        tags = "<br>".join(f"`{_cell(tag)}`" for tag in t.tags) or "-"
        status = status_text(t, summary)
        if t.status is Status.FAILED:
            status = f"**{status}**"
        lines.append(
            "| "
            + " | ".join(
                [
                    _cell(t.name),
                    tags,
                    human_size(t.size),
                    size_change(t),
                    "-" if t.layers is None else str(t.layers),
                    target_time(t),
                    _cell(status),
                ]
            )
            + " |"
        )
    lines += [
        "",
        f"- **stages:** {stage_counts(summary)}",
    ]
    for n in summary.nodes:
        if n.shared:
            lines.append(
                f"- **shared:** `{n.stage}` by {len(n.targets)} targets "
                f"({', '.join(n.targets)}), {_node_state(n.status, n.seconds)}"
            )
    lines += [
        (
            f"- **time:** wall {human_seconds(summary.wall)}, "
            f"work {human_seconds(summary.work)}, parallelism {summary.parallelism:.2f}"
        ),
        f"- **critical path:** {_cell(critical_text(summary))}",
        f"- **builder:** {summary.backend or '-'}",
    ]
    for n in summary.nodes:
        if n.status is not Status.FAILED or n.error is None:
            continue
        err = n.error
        code = f", exit code {err.exit_status}" if err.exit_status is not None else ""
        lines += [
            "",
            (
                f"**✗ {', '.join(n.targets)}: stage `{n.stage}` failed at "
                f"{_cell(err.where or '?')}{code}**"
            ),
            "",
            "```",
            *([err.step] if err.step else []),
            err.message,
            *err.log_tail,
            "```",
        ]
    if summary.interrupted:
        lines += ["", "**interrupted:** builds were stopped"]
    return "\n".join(lines) + "\n"


def _node_state(status: Status, seconds: float) -> str:
    if status is Status.BUILT:
        return f"built in {human_seconds(seconds)}"
    return str(status.value)
