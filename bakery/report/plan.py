"""Text and JSON views of a plan, for ``bakery plan``. Plain text: no rich,
so that a dry run starts fast."""

from __future__ import annotations

import os

from bakery.core.plan import Node, Plan


def _where(node: Node) -> str:
    name = node.graph.dockerfile.name
    shown = os.path.relpath(name) if os.path.isabs(name) else name
    return f"{shown}:{node.stage.start_line}"


def render_plan(plan: Plan) -> str:
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
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan) -> dict[str, object]:
    """The plan as data: nodes in order, waves, targets, external images."""
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
