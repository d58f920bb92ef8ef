"""A daemon's part in a run on several: the stages it hands to others, and those
it takes from them, through the registry cache (``bakery.engine.exchange``).

The placement says which nodes cross daemons; each daemon keeps only those
that can cross from where it stands (a key computed here, no ``no-cache``,
on BuildKit a named stage that is no target's own image), builds the others
itself, and tells the others at once of what it will not hand over, so that
none waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bakery.core.builds import no_cache
from bakery.core.plan import Plan
from bakery.core.status import Status
from bakery.engine.exchange import Exchange

__all__ = ["Handover", "Share"]


@dataclass(frozen=True)
class Share:
    """What the placement gives one daemon: the nodes another daemon builds that
    this one pulls (node -> that daemon), those it builds for others, where they
    meet, and whom to tell of a failure here."""

    name: str = ""
    remote: Mapping[str, str] = field(default_factory=dict)
    exported: frozenset[str] = frozenset()
    exchange: Exchange = field(default_factory=Exchange)
    on_failure: Callable[[str], None] = lambda _node: None


class Handover:
    """The crossing nodes of one run on one daemon, as they can be."""

    def __init__(
        self,
        share: Share,
        plan: Plan,
        keys: Mapping[str, str | None],
        *,
        buildkit: bool,
        enabled: bool,
    ) -> None:
        self.share = share
        self.plan = plan

        def can_cross(node_id: str) -> bool:
            node = plan.nodes.get(node_id)
            if node is None or not keys.get(node_id) or no_cache(plan, node, False):
                return False
            return not buildkit or (node.stage.written_name is not None and not node.final_for)

        self.remote = {n: d for n, d in share.remote.items() if enabled and can_cross(n)}
        self.exported = frozenset(n for n in share.exported if enabled and can_cross(n))
        for node_id in set(share.exported) - self.exported:
            share.exchange.failed(node_id, self._why(node_id, "cannot be handed over"))

    def crossing(self) -> tuple[str, ...]:
        """The nodes that travel as images of their own (on BuildKit: splits)."""
        return (*self.remote, *self.exported)

    def settle(self, node_id: str, status: Status, image_id: str | None) -> None:
        """A node built here for others ended without an image to push: say so now."""
        if node_id not in self.exported:
            return
        ended = status in (Status.FAILED, Status.NOT_STARTED, Status.CANCELLED)
        if ended or (status is Status.CACHED and image_id is None):
            self.share.exchange.failed(node_id, self._why(node_id, status.value))

    def _why(self, node_id: str, why: str) -> str:
        where = f" on {self.share.name}" if self.share.name else ""
        return f"{self.plan.nodes[node_id].label}{where}: {why}"
