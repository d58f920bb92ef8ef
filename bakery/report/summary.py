"""The report after a build: a table of targets, a summary, and failures last.

Rendered with rich into any console, so tests render into a fixed-width
``StringIO`` and compare text.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakery.core.plan import Plan
from bakery.engine.events import RunResult, Status

_STYLE = {Status.BUILT: "green", Status.CACHED: "cyan", Status.FAILED: "red bold",
          Status.NOT_STARTED: "yellow", Status.CANCELLED: "yellow"}


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def render_report(
    console: Console,
    plan: Plan,
    result: RunResult,
    sizes: Mapping[str, int | None] | None = None,
) -> None:
    """Print the table of targets, the summary, then every failure."""
    sizes = sizes or {}
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in ("target", "tags", "size", "time", "status"):
        table.add_column(column, justify="right" if column in ("size", "time") else "left")
    for name, target in result.targets.items():
        planned = plan.targets[name]
        seconds = sum(result.nodes[n].seconds for n in planned.nodes
                      if not plan.nodes[n].shared)
        status = Text(target.status.value, style=_STYLE[target.status])
        if target.reason and target.status is not Status.BUILT:
            status.append(f" ({target.reason})", style="dim")
        table.add_row(name, "\n".join(planned.target.tags) or "-",
                      human_size(sizes.get(name)), f"{seconds:.1f}s", status)
    console.print(table)

    built = sum(1 for r in result.nodes.values() if r.status is Status.BUILT)
    cached = sum(1 for r in result.nodes.values() if r.status is Status.CACHED)
    wall = result.finished - result.started
    work = sum(r.seconds for r in result.nodes.values())
    console.print(f"stages: {built} built, {cached} cached, of {len(plan.nodes)}")
    for node in plan.shared():
        r = result.nodes[node.id]
        console.print(f"shared: {node.stage.display_name} by {len(node.targets)} targets "
                      f"({', '.join(sorted(node.targets))}), {r.status.value}, {r.seconds:.1f}s")
    parallel = work / wall if wall > 0 else 0.0
    console.print(f"wall {wall:.1f}s, work {work:.1f}s, parallelism {parallel:.2f}, "
                  f"builder {result.backend}")
    render_failures(console, plan, result)


def render_failures(console: Console, plan: Plan, result: RunResult) -> None:
    """Each failed stage: target, stage, Dockerfile line, exit code, last log lines."""
    for node_id, r in result.nodes.items():
        if r.status is not Status.FAILED or r.error is None:
            continue
        node = plan.nodes[node_id]
        err = r.error
        console.print()
        targets = ", ".join(sorted(node.targets))
        code = f", exit code {err.exit_status}" if err.exit_status is not None else ""
        console.print(Text(f"✗ {targets}: stage {node.stage.display_name} failed "
                           f"at {err.where or node.graph.dockerfile.name}{code}", style="red bold"))
        if err.step:
            console.print(Text(f"  {err.step}"))
        console.print(Text(f"  {err.message}", style="red"))
        if err.log_tail:
            console.print(Text("  last lines of its log:", style="dim"))
            for line in err.log_tail:
                console.print(Text(f"    {line}"))
    if result.interrupted:
        console.print(Text("interrupted: builds were stopped", style="yellow bold"))
