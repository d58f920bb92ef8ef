"""Progress while bakery builds, fed by engine events.

``LiveProgress`` is the view on a terminal: one line per running stage (its
``target/stage`` label, elapsed time and latest log line, cut to the width),
redrawn in place by rich's ``Live``; a stage that ends folds into one line
above it, with ✓ or ✗ and ``cached`` or its time. ``PlainProgress`` writes
every log line prefixed with ``[target/stage]``, readable in CI logs; quiet
mode writes nothing until the report. ``make_progress`` picks one for
``--progress``. Nothing here talks to the daemon or decides anything: the
views only show the events they are given.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from bakery.core.plan import Plan
from bakery.engine.backend import LogEvent, StepEvent
from bakery.engine.events import (
    Event,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    Status,
    TargetFinished,
)
from bakery.report.summary import human_seconds

MODES = ("auto", "tty", "plain", "quiet")


class PlainProgress:
    """One line per log line and per state change, prefixed with the node's label."""

    def __init__(self, plan: Plan, out: TextIO, *, quiet: bool = False) -> None:
        self.plan = plan
        self.out = out
        self.quiet = quiet
        self._started: dict[str, float] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def _label(self, node_id: str) -> str:
        node = self.plan.nodes.get(node_id)
        return node.label if node else node_id

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, NodeStarted):
            self._started[event.node] = event.at
            node = self.plan.nodes[event.node]
            shared = f" (shared by {', '.join(sorted(node.targets))})" if node.shared else ""
            self._line(event.node, f"started{shared}")
        elif isinstance(event, NodeProgress):
            ev = event.event
            if isinstance(ev, LogEvent):
                for line in ev.text.splitlines():
                    self._line(event.node, line)
            elif isinstance(ev, StepEvent) and ev.started and not ev.completed:
                self._line(event.node, f"# {ev.name}")
        elif isinstance(event, NodeFinished):
            if event.status is Status.BUILT:
                took = event.at - self._started.get(event.node, event.at)
                self._line(event.node, f"done in {took:.1f}s")
            elif event.status is Status.FAILED:
                self._line(event.node, "FAILED")
            elif event.status is Status.CACHED:
                self._line(event.node, "cached")
            elif event.status is Status.PULLED:
                self._line(event.node, "pulled from the registry cache")
        elif isinstance(event, TargetFinished) and event.status in (Status.BUILT, Status.CACHED):
            self.out.write(f"[{event.target}] tagged {', '.join(event.tags) or '(no tags)'}\n")
            self.out.flush()

    def _line(self, node_id: str, text: str) -> None:
        self.out.write(f"[{self._label(node_id)}] {text}\n")
        self.out.flush()


# -- the live view -------------------------------------------------------------------------

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_LABEL = 40
_TIME_WIDTH = 7


def last_line(text: str) -> str:
    """The last visible line of a chunk of output: no colours, no control
    characters, and of a line redrawn with ``\\r``, what is left on screen."""
    for raw in reversed(text.split("\n")):
        line = _ANSI.sub("", raw).rstrip("\r").split("\r")[-1]
        line = _CONTROL.sub("", line.replace("\t", "    ")).rstrip()
        if line.strip():
            return line
    return ""


# A BuildKit step names its stage and its place in it: "[build-client 2/3] RUN make".
_STEP = re.compile(r"^\[(?:\S+ )?(?P<n>\d+)/(?P<of>\d+)\]")


@dataclass
class _Running:
    seen: float  # on the view's clock, when the stage started
    at: float | None  # on the engine's clock (NodeStarted.at)


class LiveProgress:
    """The live view on a terminal. Use as a context manager around the run.

    The engine calls it from its thread while rich redraws from its own; a lock
    keeps the state whole, and nothing calls rich while holding it. ``clock``
    measures the elapsed time shown (the engine's times fold the lines)."""

    def __init__(
        self,
        plan: Plan,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_per_second: float = 8.0,
    ) -> None:
        self.plan = plan
        self.console = console
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}  # in the order they started
        self._lines: dict[str, Text] = {}  # node -> its latest line
        self._done: set[str] = set()
        self._steps: dict[str, dict[int, bool]] = {}  # node -> step number -> cached
        self._begun = clock()
        labels = [len(n.label) for n in plan.nodes.values()]
        self._width = min(max(labels, default=0), _MAX_LABEL)
        # Imported here: plain and quiet progress, as in CI logs, never load it.
        from rich.live import Live  # noqa: PLC0415

        self._live = Live(
            console=console,
            get_renderable=lambda: _View(self),
            refresh_per_second=refresh_per_second,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveProgress:
        self._begun = self.clock()
        self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.stop()

    def __call__(self, event: Event) -> None:
        with self._lock:
            folded = self._apply(event)
        if folded is not None:
            # While the view is live, rich prints this above the running lines.
            self.console.print(folded, soft_wrap=False, overflow="ellipsis", no_wrap=True)

    def _apply(self, event: Event) -> Text | None:
        """Update the state; return the line to print for good, if any."""
        if isinstance(event, NodeStarted):
            if event.node not in self._running and event.node not in self._done:
                self._running[event.node] = _Running(self.clock(), event.at)
        elif isinstance(event, NodeProgress):
            ev = event.event
            if isinstance(ev, LogEvent):
                line = last_line(ev.text)
                if line:
                    self._lines[event.node] = Text(line)
            elif isinstance(ev, StepEvent):
                if ev.started and not ev.completed:
                    self._lines[event.node] = Text(last_line(ev.name), style="dim")
                return self._step_done(event.node, ev)
        elif isinstance(event, NodeFinished):
            running = self._running.pop(event.node, None)
            self._lines.pop(event.node, None)
            if event.node in self._done and event.status is not Status.FAILED:
                # Folded already, when its last step ended. (A build stopped after
                # that step still ends it as cancelled: the report shows that.)
                return None
            self._done.add(event.node)
            return self._folded(event, running)
        elif isinstance(event, TargetFinished) and event.status in (Status.BUILT, Status.CACHED):
            tags = ", ".join(event.tags) or "(no tags)"
            return Text(f"→ {event.target} tagged {tags}", style="dim")
        return None

    def _step_done(self, node_id: str, ev: StepEvent) -> Text | None:
        """Fold a running stage as soon as its last step ends.

        BuildKit runs a target's stages in one build, and the engine reports a
        stage when that build ends; a shared stage would look busy long after
        its work is done. Its steps say more: when every step of the stage has
        ended, so has the stage."""
        match = _STEP.match(ev.name)
        if match is None or not (ev.completed or ev.cached):
            return None
        steps = self._steps.setdefault(node_id, {})
        # As the engine counts it: resolving the base (FROM) is not building.
        steps[int(match["n"])] = ev.cached or ev.name[match.end() :].lstrip().startswith("FROM ")
        running = self._running.get(node_id)
        if running is None or len(steps) < int(match["of"]) or ev.error:
            return None
        del self._running[node_id]
        self._lines.pop(node_id, None)
        self._done.add(node_id)
        if all(steps.values()):
            return self._row("✓", "green", node_id, "cached")
        took = human_seconds(max(0.0, self.clock() - running.seen))
        return self._row("✓", "green", node_id, took)

    def _folded(self, event: NodeFinished, running: _Running | None) -> Text | None:
        took = "-"
        if running is not None and running.at is not None:
            took = human_seconds(max(0.0, event.at - running.at))
        if event.status is Status.CACHED:
            return self._row("✓", "green", event.node, "cached")
        if event.status is Status.PULLED:
            return self._row("✓", "green", event.node, f"pulled {took}")
        if event.status is Status.BUILT:
            return self._row("✓", "green", event.node, took)
        if event.status is Status.FAILED:
            err = event.error
            why = "failed"
            if err is not None and err.exit_status is not None:
                why = f"failed, exit code {err.exit_status}"
            return self._row("✗", "red bold", event.node, took, Text(why, style="red"))
        if event.status is Status.CANCELLED:
            note = Text(event.reason or "cancelled", style="yellow")
            return self._row("✗", "yellow", event.node, took, note)
        return None  # a stage that never started: the report says why

    def _row(
        self, icon: str, style: str, node_id: str, when: str, note: Text | None = None
    ) -> Text:
        node = self.plan.nodes.get(node_id)
        label = node.label if node else node_id
        if len(label) > self._width:
            label = label[: max(1, self._width - 1)] + "…"
        row = Text.assemble(
            (icon, style), " ", label.ljust(self._width), " ", when.rjust(_TIME_WIDTH)
        )
        if note is not None and note.plain:
            row.append("  ")
            row.append_text(note)
        return row

    def lines(self, width: int) -> list[Text]:
        """The running lines and the status line, each cut to ``width``."""
        now = self.clock()
        with self._lock:
            running = list(self._running.items())
            notes = {n: self._lines.get(n, Text("")).copy() for n, _ in running}
            done = len(self._done)
        frame = _SPINNER[int((now - self._begun) * 10) % len(_SPINNER)]
        out = [
            self._row(frame, "cyan", node_id, human_seconds(max(0.0, now - r.seen)), notes[node_id])
            for node_id, r in running
        ]
        total = len(self.plan.nodes)
        status = Text(
            f"{done}/{total} stages done, {len(running)} running, "
            f"{human_seconds(max(0.0, now - self._begun))}",
            style="dim",
        )
        out.append(status)
        for line in out:
            line.no_wrap = True
            line.truncate(width, overflow="ellipsis")
        return out


class _View:
    """What ``Live`` redraws: the live lines at the width it is given."""

    def __init__(self, progress: LiveProgress) -> None:
        self.progress = progress

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n").join(self.progress.lines(options.max_width))


def is_terminal(stream: TextIO) -> bool:
    """A terminal a live view can redraw on (not a pipe, not ``TERM=dumb``)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def make_progress(mode: str, plan: Plan, stream: TextIO) -> PlainProgress | LiveProgress:
    """The progress view for ``--progress MODE``, writing to ``stream`` (stderr).

    ``auto`` is the live view on a terminal and plain lines elsewhere; ``tty``
    is the live view even when the stream does not look like a terminal."""
    if mode not in MODES:
        raise ValueError(f"unknown progress mode {mode!r}")
    if mode == "auto":
        mode = "tty" if is_terminal(stream) else "plain"
    if mode == "tty":
        return LiveProgress(plan, Console(file=stream, force_terminal=True, highlight=False))
    return PlainProgress(plan, stream, quiet=mode == "quiet")
