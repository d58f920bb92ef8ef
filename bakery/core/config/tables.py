"""Targets and groups as the bake files define them, before they are resolved.

Between reading a file and building the frozen ``Target`` and ``Group``, every
value carries where it came from (a file and line, or a ``--set`` argument) and
which folder its relative paths are relative to, so that a problem found late
(an unknown ``depends-on``, a bad tag after ``${...}`` expansion) still names
the place the user wrote it. Data only: no reading, no checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Origin:
    """Where a value was given, for messages and for its relative paths."""

    where: str  # "bake.toml:12" or "--set client.tags=x"
    base_dir: str  # what relative paths given there are relative to


@dataclass(frozen=True)
class Value:
    """One attribute's value in its canonical type, with its origin."""

    value: str | bool | tuple[str, ...]
    origin: Origin
    key: str  # "target.client.tags", for messages


@dataclass
class Table:
    """A target or group as the files define it: attributes with their origins."""

    name: str
    origin: Origin  # where the files first define it
    attrs: dict[str, Value] = field(default_factory=dict)
    maps: dict[str, dict[str, Value]] = field(default_factory=dict)

    def merge(self, other: Table) -> None:
        """Lay ``other`` over this table: attribute by attribute, map key by key."""
        self.attrs.update(other.attrs)
        for name, entries in other.maps.items():
            self.maps.setdefault(name, {}).update(entries)
