"""The states a node or target ends a run in."""

from __future__ import annotations

import enum


class Status(enum.Enum):
    BUILT = "built"
    CACHED = "cached"
    PULLED = "pulled"  # from the registry cache, not built
    FAILED = "failed"
    NOT_STARTED = "not started"
    CANCELLED = "cancelled"
