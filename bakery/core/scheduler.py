"""The schedule of one run: a state machine over the run's builds.

The engine tells it what happened (a node's final state, a build's end, a
target tagged, an interrupt) and asks it, as data, what to do next: which
builds may start now and whether each must be built, can reuse an earlier
image, or is skipped because something it waits for did not build. It also
decides what a failure stops (everything, or with ``keep_going`` only what
waits for it), why each node that did not run did not, and each target's final
status. It knows nothing of daemons or time. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bakery.core.builds import Build, BuildKind, run_by
from bakery.core.plan import Plan
from bakery.core.status import Status


class Do(enum.Enum):
    BUILD = "build"  # send the build to the daemon
    REUSE = "reuse"  # take the earlier image of ``top``; ``nodes`` come from it
    TAKE = "take"  # the target's image is a split's, already made: just tag it
    NOTHING = "nothing"  # every target built from this split reuses its image
    SKIP = "skip"  # something it waits for did not build: ``nodes`` do not start


@dataclass(frozen=True)
class Action:
    do: Do
    build: Build
    nodes: tuple[str, ...] = ()  # REUSE and NOTHING: recorded as cached; SKIP: not started
    reason: str | None = None  # SKIP: why


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str | None = None


class _State(enum.Enum):
    WAITING = 0
    RUNNING = 1
    ENDED = 2


_GOOD = (Status.BUILT, Status.CACHED, Status.PULLED)


class Scheduler:
    """Feeds a run's builds to the engine in order, at most ``jobs`` at a time.

    ``reusable`` names the nodes whose image from an earlier run may be taken
    instead of building them. Builds are offered in the order given."""

    def __init__(
        self,
        plan: Plan,
        builds: Sequence[Build],
        *,
        jobs: int = 4,
        keep_going: bool = False,
        reusable: Collection[str] = (),
    ) -> None:
        self.plan = plan
        self.builds = {b.id: b for b in builds}
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.reusable = frozenset(reusable)
        self.first_failure: str | None = None
        self.interrupted = False
        self.halted: str | None = None
        self._state = {b.id: _State.WAITING for b in builds}
        self._nodes: dict[str, Outcome] = {}
        self._targets: dict[str, Status] = {}
        self._skipped: set[str] = set()  # targets whose build was skipped
        self._runners = run_by(plan) if any(b.kind is not BuildKind.NODE for b in builds) else {}
        self._slots: set[str] = set()  # the builds that hold one of the ``jobs`` slots

    # -- what happened -----------------------------------------------------------

    def node_finished(self, node_id: str, status: Status, reason: str | None = None) -> None:
        """A node reached its final state (the first report of a node counts)."""
        if node_id in self._nodes:
            return
        self._nodes[node_id] = Outcome(status, reason)
        if status is Status.FAILED and self.first_failure is None:
            self.first_failure = node_id

    def target_succeeded(self, name: str) -> Status:
        """The target's image is tagged: ``cached`` when every node it needs came
        from cache (the daemon's or the registry's), else ``built``."""
        nodes = self.plan.targets[name].nodes
        cached = all(self.outcome(n).status in (Status.CACHED, Status.PULLED) for n in nodes)
        status = Status.CACHED if cached else Status.BUILT
        self._targets[name] = status
        return status

    def build_ended(self, build_id: str) -> None:
        """The build's work is over, whatever its outcome (its nodes are reported)."""
        self._slots.discard(build_id)
        self._state[build_id] = _State.ENDED

    def interrupt(self) -> None:
        self.interrupted = True

    def halt(self, reason: str) -> None:
        """Start nothing more, for a reason from outside (a failure on another daemon)."""
        if self.halted is None:
            self.halted = reason

    # -- what to do --------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Nothing more may start: interrupted, halted, or a node failed without ``keep_going``."""
        return (
            self.interrupted
            or self.halted is not None
            or (self.first_failure is not None and not self.keep_going)
        )

    @property
    def done(self) -> bool:
        return all(s is _State.ENDED for s in self._state.values())

    def next(self) -> list[Action]:
        """The builds that may start now, each marked running; the engine reports
        each one's end with ``build_ended``. A skip is settled here, at once."""
        out: list[Action] = []
        changed = True
        while changed and not self.stopping:
            changed = False
            for build in self.builds.values():
                if self._state[build.id] is not _State.WAITING:
                    continue
                if any(self._state[d] is not _State.ENDED for d in build.after):
                    continue
                action = self._action(build)
                if action.do is Do.BUILD and build.limited:
                    if len(self._slots) >= self.jobs:
                        continue
                    self._slots.add(build.id)
                self._state[build.id] = _State.RUNNING
                if action.do is Do.SKIP:
                    for node_id in action.nodes:
                        self.node_finished(node_id, Status.NOT_STARTED, action.reason)
                    self._state[build.id] = _State.ENDED
                    changed = True
                out.append(action)
        return out

    def _action(self, build: Build) -> Action:
        reason = self._blocked(build)
        if reason is not None:
            if build.kind is BuildKind.TARGET:
                self._skipped.update(build.targets)
            return Action(Do.SKIP, build, self._own(build), reason)
        if build.kind is BuildKind.NODE:
            return Action(Do.REUSE if build.top in self.reusable else Do.BUILD, build, (build.top,))
        if build.kind is BuildKind.TARGET:
            if self._ran_elsewhere(build):
                return Action(Do.TAKE, build)
            if build.top in self.reusable:
                return Action(Do.REUSE, build, build.nodes)
            return Action(Do.BUILD, build)
        own = self._own(build)
        if build.top in self.reusable:
            return Action(Do.REUSE, build, (*own, build.top) if build.top not in own else own)
        if all(self.plan.targets[t].node in self.reusable for t in build.users):
            return Action(Do.NOTHING, build, own)
        return Action(Do.BUILD, build)

    def _ran_elsewhere(self, build: Build) -> bool:
        """A target whose image is a split's: the split's build made it."""
        return any(
            self.builds[d].kind is BuildKind.SPLIT and self.builds[d].top == build.top
            for d in build.after
        )

    def _blocked(self, build: Build) -> str | None:
        """Why ``build`` cannot run: the first build it waits for that did not end well."""
        for dep_id in build.after:
            dep = self.builds[dep_id]
            if dep.kind is BuildKind.TARGET:
                name = dep.targets[0]
                if self._targets.get(name) not in _GOOD:
                    return f"target {name} did not build"
            elif self.outcome(dep.top).status not in _GOOD:
                return f"{self.plan.nodes[dep.top].label} did not build"
        return None

    def _own(self, build: Build) -> tuple[str, ...]:
        """The nodes that are this build's to report when it does not run: its own
        node, or on BuildKit those no other build but its targets' (and those of
        targets already skipped) runs."""
        if build.kind is BuildKind.NODE:
            return (build.top,)
        nodes = (
            self.plan.targets[build.targets[0]].nodes
            if build.kind is BuildKind.TARGET
            else build.nodes
        )
        names = set(build.users) | self._skipped
        return tuple(n for n in nodes if self._runners.get(n, frozenset()) <= names)

    # -- how it ended -------------------------------------------------------------

    def outcome(self, node_id: str) -> Outcome:
        """A node's final state; a node that never got one did not start, stopped."""
        return self._nodes.get(node_id) or Outcome(Status.NOT_STARTED, self.stop_reason())

    def stop_reason(self) -> str:
        """Why work that was running or waiting did not finish."""
        if self.interrupted:
            return "interrupted"
        if self.halted is not None and self.first_failure is None:
            return self.halted
        return f"stopped after {self._label(self.first_failure)} failed"

    def unreported(self) -> list[str]:
        """The nodes nothing has reported, in plan order (at the end: not started)."""
        return [n for n in self.plan.nodes if n not in self._nodes]

    def target_outcome(self, name: str) -> Outcome:
        """A target's final state: as tagged, failed where one of its nodes failed,
        else not started with its image's node's reason."""
        if name in self._targets:
            return Outcome(self._targets[name])
        planned = self.plan.targets[name]
        failed = [n for n in planned.nodes if self.outcome(n).status is Status.FAILED]
        if failed:
            return Outcome(Status.FAILED, f"{self._label(failed[0])} failed")
        return Outcome(Status.NOT_STARTED, self.outcome(planned.node).reason or "not started")

    def _label(self, node_id: str | None) -> str:
        if node_id is None or node_id not in self.plan.nodes:
            return "a build"
        return self.plan.nodes[node_id].label
