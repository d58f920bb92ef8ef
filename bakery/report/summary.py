"""The report after a build: what happened, as data, and its table in a console.

``summarize`` turns a plan, the runner's result and the daemon's facts about
the images (sizes, layers, gathered by ``bakery.report.sizes``) into a
``Summary``; ``render_report`` prints it: a table of targets, a summary of
stages and time, and failures last, so that they are never buried. Pure: no
docker, no clock; tests render into a fixed-width ``StringIO`` console and
compare text. The JSON and Markdown forms (``bakery.report.formats``) read the
same ``Summary``, so every form says the same thing.

Time is never counted twice: a target's time is the work of the stages that
are its own; a stage several targets share is reported once, as shared, and
credited to none of them. So the targets' times and the shared stages' times
add up to the work time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakery.core.plan import Plan
from bakery.engine.backend import BuildFailed
from bakery.engine.events import RunResult, Status

_STYLE = {
    Status.BUILT: "green",
    Status.CACHED: "cyan",
    Status.PULLED: "cyan",
    Status.FAILED: "red bold",
    Status.NOT_STARTED: "yellow",
    Status.CANCELLED: "yellow",
}


# -- facts from the daemon, gathered by the caller ---------------------------------------


@dataclass(frozen=True)
class ImageSize:
    """What the daemon says of one image."""

    size: int  # bytes, as ``docker image inspect`` reports ``Size``
    layers: int  # ``RootFS.Layers``


@dataclass(frozen=True)
class Pushed:
    """One tag pushed to a registry, and the digest the registry gave it."""

    tag: str
    digest: str


@dataclass(frozen=True)
class ImageSizes:
    """What the report needs from outside the run: images by ID (the targets'
    new images and the ones their first tags pointed to before), and pushes."""

    images: Mapping[str, ImageSize] = field(default_factory=dict)
    pushed: Mapping[str, tuple[Pushed, ...]] = field(default_factory=dict)  # target -> pushes


# -- the summary, as data ------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRow:
    name: str
    tags: tuple[str, ...]
    status: Status  # CACHED when every stage it needs came from cache
    reason: str | None  # why it failed or did not start
    image_id: str | None
    size: int | None
    previous_image_id: str | None  # what its first tag pointed to before the run
    previous_size: int | None
    layers: int | None
    seconds: float | None  # the work of its own (unshared) stages; None: none ran
    stages: tuple[str, ...]  # node ids it needs, in build order
    requested: bool
    pushed: tuple[Pushed, ...] = ()
    daemon: str | None = None  # on several daemons: the one that built it


@dataclass(frozen=True)
class NodeRow:
    id: str
    label: str  # target/stage, or shared/stage
    stage: str
    targets: tuple[str, ...]
    status: Status
    reason: str | None
    start: float | None  # seconds from the run's start
    end: float | None
    seconds: float
    error: BuildFailed | None = None
    pulled_bytes: int | None = None  # PULLED: the image's size
    daemons: tuple[str, ...] = ()  # on several daemons: where it ran

    @property
    def shared(self) -> bool:
        return len(self.targets) > 1


@dataclass(frozen=True)
class Summary:
    targets: tuple[TargetRow, ...]
    nodes: tuple[NodeRow, ...]  # in build order
    wall: float
    work: float
    critical_path: tuple[str, ...]  # node ids, first to last
    critical_seconds: float  # from the start of its first stage to the end of its last
    backend: str
    interrupted: bool
    ok: bool

    @property
    def parallelism(self) -> float:
        return self.work / self.wall if self.wall > 0 else 0.0

    def node(self, node_id: str) -> NodeRow:
        return self._by_id[node_id]

    @cached_property
    def _by_id(self) -> dict[str, NodeRow]:
        return {n.id: n for n in self.nodes}

    def count(self, status: Status) -> int:
        return sum(1 for n in self.nodes if n.status is status)


def summarize(plan: Plan, result: RunResult, facts: ImageSizes | None = None) -> Summary:
    """The facts of one run, computed once for every form of the report."""
    facts = facts or ImageSizes()
    t0 = result.started
    nodes: list[NodeRow] = []
    for node_id, node in plan.nodes.items():
        r = result.nodes.get(node_id)
        if r is None:
            continue
        nodes.append(
            NodeRow(
                id=node_id,
                label=node.label,
                stage=node.stage.display_name,
                targets=tuple(sorted(node.targets)),
                status=r.status,
                reason=r.reason,
                start=None if r.started is None else r.started - t0,
                end=None if r.finished is None else r.finished - t0,
                seconds=r.seconds,
                error=r.error,
                pulled_bytes=r.pulled_bytes,
                daemons=tuple(result.daemons.get(node_id, ())),
            )
        )
    by_id = {n.id: n for n in nodes}

    targets: list[TargetRow] = []
    for name, tr in result.targets.items():
        planned = plan.targets[name]
        tags = tr.tags or planned.target.tags
        status = tr.status
        own = [by_id[n] for n in planned.nodes if n in by_id and not by_id[n].shared]
        needed = [by_id[n] for n in planned.nodes if n in by_id]
        if status is Status.NOT_STARTED and any(n.start is not None for n in needed):
            status = Status.CANCELLED  # its build began, and was stopped
        previous = tr.previous.get(planned.target.tags[0]) if planned.target.tags else None
        image = facts.images.get(tr.image_id) if tr.image_id else None
        before = facts.images.get(previous) if previous else None
        targets.append(
            TargetRow(
                name=name,
                tags=tags,
                status=status,
                reason=tr.reason,
                image_id=tr.image_id,
                size=image.size if image else None,
                previous_image_id=previous,
                previous_size=before.size if before else None,
                layers=image.layers if image else None,
                seconds=(
                    sum(n.seconds for n in own) if any(n.start is not None for n in own) else None
                ),
                stages=planned.nodes,
                requested=planned.requested,
                pushed=tuple(facts.pushed.get(name, ())),
                daemon=result.placement.get(name),
            )
        )

    path, length = critical_path(plan, result)
    return Summary(
        targets=tuple(targets),
        nodes=tuple(nodes),
        wall=max(0.0, result.finished - result.started),
        work=sum(n.seconds for n in nodes),
        critical_path=path,
        critical_seconds=length,
        backend=result.backend,
        interrupted=result.interrupted,
        ok=result.ok,
    )


def critical_path(plan: Plan, result: RunResult) -> tuple[tuple[str, ...], float]:
    """The chain of stages that decided the wall time, and its length.

    It ends at the stage that finished last; each step back goes to the stage,
    among those it waited for, that finished last. Its length runs from the
    start of its first stage to the end of its last, waits included. Ties go
    to the later node in build order, the one further down the graph."""
    ran = {
        n: r
        for n, r in result.nodes.items()
        if n in plan.nodes and r.started is not None and r.finished is not None
    }
    if not ran:
        return (), 0.0
    order = {n: i for i, n in enumerate(plan.nodes)}

    def latest(ids: list[str]) -> str:
        return max(ids, key=lambda n: (ran[n].finished or 0.0, order[n]))

    chain = [latest(list(ran))]
    while True:
        before = [d for d in plan.waits_for(chain[-1]) if d in ran]
        if not before:
            break
        chain.append(latest(before))
    chain.reverse()
    first, last = ran[chain[0]], ran[chain[-1]]
    assert first.started is not None
    assert last.finished is not None
    return tuple(chain), max(0.0, last.finished - first.started)


# -- words and numbers -----------------------------------------------------------------------


def human_size(size: int | None) -> str:
    """Bytes in decimal units, as ``docker images`` shows them."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover


def human_seconds(seconds: float) -> str:
    """``2.1s``, ``3m05s``, ``1h02m``."""
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def target_time(row: TargetRow) -> str:
    return "-" if row.seconds is None else human_seconds(row.seconds)


def size_change(row: TargetRow) -> str:
    """Against the image the target's first tag pointed to before the run."""
    if row.image_id is None:
        return "-"
    if row.previous_image_id is None:
        return "new"
    if row.previous_image_id == row.image_id:
        return "unchanged"
    if row.size is None or row.previous_size is None:
        return "?"
    delta = row.size - row.previous_size
    return ("+" if delta >= 0 else "-") + human_size(abs(delta))


def status_text(row: TargetRow, summary: Summary) -> str:
    """``built``, ``cached``, ``failed at shared/base``, ``not started (why)``."""
    if row.status is Status.FAILED:
        failed = [summary.node(n) for n in row.stages if summary.node(n).status is Status.FAILED]
        if failed:
            return f"failed at {failed[0].label}"
    if row.status in (Status.BUILT, Status.CACHED) or not row.reason:
        return row.status.value
    return f"{row.status.value} ({row.reason})"


def stage_counts(summary: Summary) -> str:
    """``3 built, 1 cached, 1 failed, of 5``: built and cached always, the rest when any."""
    parts = [f"{summary.count(Status.BUILT)} built", f"{summary.count(Status.CACHED)} cached"]
    for status in (Status.PULLED, Status.FAILED, Status.CANCELLED, Status.NOT_STARTED):
        if summary.count(status):
            parts.append(f"{summary.count(status)} {status.value}")
    return ", ".join(parts) + f", of {len(summary.nodes)}"


def node_time(node: NodeRow) -> str:
    if node.status is Status.CACHED:
        return "cached"
    if node.status is Status.PULLED:
        return f"pulled in {human_seconds(node.seconds)}"
    if node.status is Status.NOT_STARTED:
        return "not started"
    return human_seconds(node.seconds)


def shared_text(node: NodeRow) -> str:
    """``base: 2 targets (client, server), built in 2.0s``."""
    if node.status is Status.BUILT:
        how = f"built in {human_seconds(node.seconds)}"
    elif node.status is Status.PULLED:
        how = f"pulled in {human_seconds(node.seconds)}"
    elif node.status in (Status.FAILED, Status.CANCELLED):
        how = f"{node.status.value} after {human_seconds(node.seconds)}"
    else:
        how = node.status.value
    return f"{node.stage}: {len(node.targets)} targets ({', '.join(node.targets)}), {how}"


def critical_text(summary: Summary) -> str:
    if not summary.critical_path:
        return "-"
    chain = " -> ".join(summary.node(n).stage for n in summary.critical_path)
    return f"{chain} ({human_seconds(summary.critical_seconds)})"


# -- the table -----------------------------------------------------------------------------


def render_report(
    console: Console,
    plan: Plan,
    result: RunResult,
    facts: ImageSizes | None = None,
) -> None:
    """Print the table of targets, the summary, then every failure."""
    summary = summarize(plan, result, facts)
    render_summary(console, summary)
    render_failures(console, plan, result)


def render_summary(console: Console, summary: Summary) -> None:
    """The table of targets and the summary lines, without the failures."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    right = ("size", "change", "layers", "time")
    for column in ("target", "tags", "size", "change", "layers", "time", "status"):
        # Tags are what scripts copy: never cut; a long status wraps instead.
        table.add_column(
            column,
            justify="right" if column in right else "left",
            no_wrap=column in ("target", "tags"),
            overflow="fold" if column == "status" else "ellipsis",
        )
    for row in summary.targets:
        status = Text(status_text(row, summary), style=_STYLE[row.status])
        table.add_row(
            row.name,
            "\n".join(row.tags) or "-",
            human_size(row.size),
            size_change(row),
            "-" if row.layers is None else str(row.layers),
            target_time(row),
            status,
        )
    console.print(table)

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("stages", stage_counts(summary))
    for node in summary.nodes:
        if node.shared:
            facts.add_row("shared", shared_text(node))
    facts.add_row(
        "time",
        f"wall {human_seconds(summary.wall)}, "
        f"work {human_seconds(summary.work)}, "
        f"parallelism {summary.parallelism:.2f}",
    )
    facts.add_row("critical path", critical_text(summary))
    facts.add_row("builder", summary.backend or "-")
    on: dict[str, list[str]] = {}
    for row in summary.targets:
        if row.daemon:
            on.setdefault(row.daemon, []).append(row.name)
    for daemon, names in on.items():
        facts.add_row("daemon", f"{daemon}: {', '.join(names)}")
    for row in summary.targets:
        for push in row.pushed:
            facts.add_row("pushed", f"{push.tag} {push.digest}")
    console.print(facts)


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
        console.print(
            Text(
                f"✗ {targets}: stage {node.stage.display_name} failed "
                f"at {err.where or node.graph.dockerfile.name}{code}",
                style="red bold",
            )
        )
        if err.step:
            console.print(Text(f"  {err.step}"))
        console.print(Text(f"  {err.message}", style="red"))
        if err.log_tail:
            console.print(Text("  last lines of its log:", style="dim"))
            for line in err.log_tail:
                console.print(Text(f"    {line}"))
        if err.hint:
            console.print(Text(f"  hint: {err.hint}", style="dim"))
    if result.interrupted:
        console.print(Text("interrupted: builds were stopped", style="yellow bold"))
