"""Text and JSON views of a plan, for ``bakery plan``. Plain text: no rich,
so that a dry run starts fast."""

from __future__ import annotations

import os

from bakery.core.placement import Placement
from bakery.core.plan import Node, Plan


def _where(node: Node) -> str:
    name = node.graph.dockerfile.name
    shown = os.path.relpath(name) if os.path.isabs(name) else name
    return f"{shown}:{node.stage.start_line}"


def render_plan(plan: Plan, placement: Placement | None = None) -> str:
    """The plan as text: waves of nodes, who shares what, external images."""
    nodes = plan.nodes
    shared = plan.shared()
    lines = [
        (
            f"plan: {len(plan.targets)} target{'s' if len(plan.targets) != 1 else ''}, "
            f"{len(nodes)} stage build{'s' if len(nodes) != 1 else ''}, "
            f"{len(shared)} shared"
        ),
        "",
    ]
    rows: list[tuple[str, str, str, str]] = []
    for number, wave in enumerate(plan.waves(), start=1):
        rows.append((f"wave {number}", "", "", ""))
        for node_id in wave:
            node = nodes[node_id]
            who = ", ".join(sorted(node.targets))
            role = f"shared by {who}" if node.shared else who
            if node.final_for:
                role += f"  -> image of {', '.join(node.final_for)}"
            rows.append((f"  {node.stage.display_name}", _where(node), role, node.id))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for a, b, c, d in rows:
        lines.append(f"{a.ljust(w0)}  {b.ljust(w1)}  {c}  [{d}]" if b else a)
    lines.append("")
    lines.append("targets:")
    for t in plan.targets.values():
        tags = ", ".join(t.target.tags) or "(no tags)"
        extra = "" if t.requested else "  (needed by another target)"
        lines.append(f"  {t.name}: {len(t.nodes)} stages, tags {tags}{extra}")
    images = plan.external_images()
    lines.append("")
    lines.append("external images: " + (", ".join(images) if images else "none"))
    if placement is not None:
        lines.extend(["", *_placement_lines(plan, placement)])
    return "\n".join(lines) + "\n"


def _placement_lines(plan: Plan, placement: Placement) -> list[str]:
    how = (
        "a stage that targets on several need is built once and pulled through the cache"
        if placement.through_cache
        else "a stage that targets on several need is built on each (no [cache] repo)"
    )
    lines = [f"placement on {len(placement.daemons)} daemons; {how}:"]
    for daemon in placement.daemons:
        names = placement.targets_on(daemon)
        lines.append(f"  {daemon}: " + (", ".join(names) if names else "(nothing)"))
    crossing = [n for n, ds in placement.runs.items() if len(ds) > 1]
    for node_id in crossing:
        node = plan.nodes[node_id]
        built = ", ".join(placement.built_on(node_id))
        lines.append(
            f"  {node.stage.display_name} [{node_id}]: built on {built}, used on "
            + ", ".join(placement.runs[node_id])
        )
    return lines


def plan_json(plan: Plan, placement: Placement | None = None) -> dict[str, object]:
    """The plan as data: nodes in order, waves, targets, external images; and
    with several daemons, where each target goes and where each stage is built."""
    doc = _plan_doc(plan)
    if placement is not None:
        doc["placement"] = {
            "through_cache": placement.through_cache,
            "targets": dict(placement.targets),
            "built_on": {n: list(placement.built_on(n)) for n in placement.runs},
        }
    return doc


def _plan_doc(plan: Plan) -> dict[str, object]:
    return {
        "nodes": [
            {
                "id": n.id,
                "stage": n.stage.display_name,
                "stage_index": n.stage.index,
                "dockerfile": n.graph.dockerfile.name,
                "line": n.stage.start_line,
                "platform": n.platform,
                "args": dict(n.args),
                "needs": list(n.needs),
                "targets": sorted(n.targets),
                "shared": n.shared,
                "image_of": list(n.final_for),
                "external_images": list(n.external_images),
            }
            for n in plan.nodes.values()
        ],
        "waves": plan.waves(),
        "targets": {
            t.name: {
                "node": t.node,
                "nodes": list(t.nodes),
                "after": list(t.after),
                "requested": t.requested,
                "tags": list(t.target.tags),
            }
            for t in plan.targets.values()
        },
        "external_images": list(plan.external_images()),
    }
