"""Layering: ``inherits`` lays each target's parents under it, then ``--set`` lays
command-line values over every target its pattern matches.

Both work on the tables with their origins, after ``${...}`` expansion and
before the frozen values are built: a value ``--set`` gives passes the same
checks as one a file gives, and a problem with it names the ``--set`` argument.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from bakery.core.config.schema import DOCS_HINT, TARGET_ATTRIBUTES, Kind
from bakery.core.config.tables import Origin, Table, Value
from bakery.core.errors import ConfigError, CycleError, did_you_mean
from bakery.core.graph import find_cycle, topological_order


def apply_inherits(targets: Mapping[str, Table]) -> dict[str, Table]:
    """Each target with its parents laid under it, in order; the child wins."""
    parents: dict[str, tuple[str, ...]] = {}
    for name, table in targets.items():
        inherits = table.attrs.get("inherits")
        names = inherits.value if inherits is not None else ()
        assert isinstance(names, tuple)
        for parent in names:
            if parent not in targets:
                assert inherits is not None
                raise ConfigError(
                    f'unknown target "{parent}" in {inherits.key}' + did_you_mean(parent, targets),
                    where=inherits.origin.where,
                )
        parents[name] = names
    cycle = find_cycle(parents)
    if cycle is not None:
        raise CycleError("inherits", cycle, where=targets[cycle[0]].attrs["inherits"].origin.where)

    # Parents first, without recursion: a chain of inherits may be long.
    resolved: dict[str, Table] = {}
    for name in topological_order(parents):
        own = targets[name]
        table = Table(name, own.origin)
        for parent in parents[name]:
            table.merge(resolved[parent])
        table.merge(own)
        if "inherits" in own.attrs:
            table.attrs["inherits"] = own.attrs["inherits"]
        else:
            table.attrs.pop("inherits", None)
        resolved[name] = table
    return {name: resolved[name] for name in targets}


def apply_set(text: str, targets: Mapping[str, Table], base_dir: str) -> None:
    """``--set PATTERN.KEY=VALUE`` / ``+=`` on every target PATTERN matches."""
    where = f"--set {text}"
    lhs, eq, value = text.partition("=")
    append = lhs.endswith("+")
    lhs = lhs.removesuffix("+")
    parts = lhs.split(".")
    if not eq or len(parts) < 2 or not all(parts):
        raise ConfigError(
            f'--set expects PATTERN.KEY=VALUE, got "{text}"',
            where="--set",
            hint="for example --set '*.platform=linux/arm64' or "
            "--set 'client.tags+=example/client:dev'",
        )
    at = next((i for i in range(1, len(parts)) if parts[i] in TARGET_ATTRIBUTES), None)
    if at is None:
        # Guess which part was meant as the attribute: the one after a pattern that matches.
        at = next(
            (i for i in range(1, len(parts)) if fnmatch.filter(targets, ".".join(parts[:i]))), 1
        )
        raise ConfigError(
            f'unknown attribute "{parts[at]}"' + did_you_mean(parts[at], TARGET_ATTRIBUTES),
            where=where,
            hint=DOCS_HINT,
        )
    pattern, attr, map_key = ".".join(parts[:at]), parts[at], ".".join(parts[at + 1 :]) or None
    kind = TARGET_ATTRIBUTES[attr]
    if attr == "inherits":
        raise ConfigError(
            "inherits cannot be changed with --set: --set applies after inheritance", where=where
        )
    if map_key is not None and kind is not Kind.MAP:
        raise ConfigError(f'"{attr}" has no keys: write {pattern}.{attr}=VALUE', where=where)
    if append and (kind in (Kind.STRING, Kind.ONE, Kind.SIZE, Kind.BOOL) or map_key):
        raise ConfigError(
            f'"+=" appends to a list or map; {attr} is one value: write {lhs}=VALUE', where=where
        )
    names = [n for n in targets if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        raise ConfigError(
            f'no target matches "{pattern}"' + did_you_mean(pattern, targets),
            where=where,
            hint="`bakery list` shows the targets",
        )
    origin = Origin(where, base_dir)
    new: str | bool | tuple[str, ...] = value
    if kind is Kind.BOOL:
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ConfigError(f'{attr} must be true or false, not "{value}"', where=where)
        new = lowered in ("true", "1")
    for name in names:
        table = targets[name]
        key = f"target.{name}.{attr}"
        if kind is Kind.MAP:
            entries = table.maps.setdefault(attr, {})
            if map_key is not None:
                entries[map_key] = Value(value, origin, f"{key}.{map_key}")
                continue
            k, eq, v = value.partition("=")
            if value and (not eq or not k):
                raise ConfigError(
                    f'{attr} takes KEY=VALUE, got "{value}"',
                    where=where,
                    hint=f"or set one key: --set '{pattern}.{attr}.KEY=VALUE'",
                )
            if not append:
                entries.clear()
            if value:
                entries[k] = Value(v, origin, f"{key}.{k}")
        elif kind in (Kind.LIST, Kind.HOSTS):
            old = table.attrs.get(attr)
            before = old.value if append and old is not None else ()
            assert isinstance(before, tuple)
            table.attrs[attr] = Value((*before, value) if value else before, origin, key)
        else:
            table.attrs[attr] = Value(new, origin, key)
