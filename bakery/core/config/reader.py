"""Reading one bake file: its text into tables of typed values with their origins.

Checks what one file can show alone: valid TOML, known tables and
attributes, names, and each value's type (by the schema). Every value keeps
the file and line it was given at (by the key-position scanner). It must not
resolve anything: variables, ``inherits`` and links between targets need all
the files, and come after.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

import tomlkit
import tomlkit.exceptions

from bakery.core.config.model import SourceFile
from bakery.core.config.positions import key_lines, scan_keys
from bakery.core.config.schema import (
    BUILDER_ATTRIBUTES,
    CACHE_ATTRIBUTES,
    DOCS_HINT,
    GROUP_ATTRIBUTES,
    TARGET_ATTRIBUTES,
    TOP_LEVEL_TABLES,
    Kind,
    coerce,
    describe,
    map_value,
    type_error,
)
from bakery.core.config.tables import Origin, Table, Value
from bakery.core.config.variables import VARIABLE_NAME
from bakery.core.errors import ConfigError, did_you_mean

_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # target and group names


def _parse_toml(source: SourceFile) -> dict[str, Any]:
    # The standard library's reader is several times faster; tomlkit, which
    # `bakery var set` uses to edit files with their comments, words the errors.
    try:
        return tomllib.loads(source.text)
    except tomllib.TOMLDecodeError:
        pass
    except RecursionError:
        # Both readers recurse into nested arrays and inline tables.
        raise ConfigError(
            "invalid TOML: arrays or inline tables nest too deep",
            where=source.path,
            hint="bakery reads values nested up to a few hundred levels",
        ) from None
    try:
        return tomlkit.parse(source.text).unwrap()
    except tomlkit.exceptions.ParseError as err:
        message = re.sub(r" at line \d+ col \d+$", "", str(err))
        message = message.replace("Unexpected character: '\\x00'", "Unexpected end of file")
        raise ConfigError(
            f"invalid TOML: {message}",
            where=f"{source.path}:{err.line}",
            hint="see https://toml.io for the syntax",
        ) from None
    except tomlkit.exceptions.TOMLKitError as err:
        # KeyAlreadyPresent carries no position: find the second definition ourselves.
        again = scan_keys(source.text)[1]
        line = min(again.values(), default=None)
        where = f"{source.path}:{line}" if line else source.path
        raise ConfigError(f"invalid TOML: {err}", where=where) from None


def read_file(
    source: SourceFile,
    variables: dict[str, Value],
    targets: dict[str, Table],
    groups: dict[str, Table],
    *,
    cache: Table | None = None,
    builders: dict[str, Table] | None = None,
) -> None:
    """Add one file's variables, targets and groups (and ``[cache]`` settings, into
    ``cache``) to those of the files read before it; a table defined again is
    merged, the later file winning."""
    doc = _parse_toml(source)
    lines = key_lines(source.text)

    def origin(*path: str) -> Origin:
        for n in range(len(path), 0, -1):
            if path[:n] in lines:
                return Origin(f"{source.path}:{lines[path[:n]]}", source.base_dir)
        return Origin(source.path, source.base_dir)

    for top, body in doc.items():
        if top not in TOP_LEVEL_TABLES:
            raise ConfigError(
                f'unknown top-level table "{top}"' + did_you_mean(top, TOP_LEVEL_TABLES),
                where=origin(top).where,
                hint="a bake file has [variables], [cache], [builders.NAME], [group.NAME] "
                "and [target.NAME] tables",
            )
        if not isinstance(body, dict):
            shape = f"[{top}]" if top in ("variables", "cache") else f"[{top}.NAME]"
            raise ConfigError(
                f"{top} must be a table {shape}, not {describe(body)}", where=origin(top).where
            )
        if top == "variables":
            for name, value in body.items():
                variables[name] = _read_variable(name, value, origin("variables", name))
            continue
        if top == "cache":
            for key, raw in body.items():
                at = origin("cache", key)
                if key not in CACHE_ATTRIBUTES:
                    raise ConfigError(
                        f'unknown attribute "{key}" in cache' + did_you_mean(key, CACHE_ATTRIBUTES),
                        where=at.where,
                        hint=DOCS_HINT,
                    )
                if cache is not None:
                    value = coerce(f"cache.{key}", CACHE_ATTRIBUTES[key], raw, at)
                    cache.attrs[key] = Value(value, at, f"cache.{key}")
            continue
        known, into = {
            "target": (TARGET_ATTRIBUTES, targets),
            "group": (GROUP_ATTRIBUTES, groups),
            "builders": (BUILDER_ATTRIBUTES, {} if builders is None else builders),
        }[top]
        for name, attrs in body.items():
            table = _read_table(top, name, attrs, known, origin)
            if name in into:
                into[name].merge(table)
            else:
                into[name] = table


def _read_variable(name: str, value: object, origin: Origin) -> Value:
    if not VARIABLE_NAME.fullmatch(name):
        raise ConfigError(
            f'invalid variable name "{name}"',
            where=origin.where,
            hint="a name is letters, digits and _, not starting with a digit",
        )
    if isinstance(value, bool):
        return Value("true" if value else "false", origin, f"variables.{name}")
    if isinstance(value, str | int | float):
        return Value(str(value), origin, f"variables.{name}")
    raise ConfigError(
        f"variables.{name} must be a string, not {describe(value)}", where=origin.where
    )


def _read_table(
    kind: str,
    name: str,
    attrs: object,
    known: Mapping[str, Kind],
    origin: Callable[..., Origin],
) -> Table:
    here = f"{kind}.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f'invalid {kind} name "{name}"',
            where=origin(kind, name).where,
            hint='a name is letters, digits, "-", "_" and "."',
        )
    if not isinstance(attrs, dict):
        raise ConfigError(
            f"{here} must be a table, not {describe(attrs)}",
            where=origin(kind, name).where,
            hint=f"write [{here}] and its attributes below it",
        )
    table = Table(name, origin(kind, name))
    for key, raw in attrs.items():
        at = origin(kind, name, key)
        if key not in known:
            raise ConfigError(
                f'unknown attribute "{key}" in {here}' + did_you_mean(key, known),
                where=at.where,
                hint=DOCS_HINT,
            )
        attr_kind = known[key]
        if attr_kind is Kind.MAP:
            if not isinstance(raw, dict):
                raise type_error(f"{here}.{key}", attr_kind, raw, at)
            entries = {}
            for k, v in raw.items():
                entry_at = origin(kind, name, key, k)
                entries[k] = Value(
                    map_value(f"{here}.{key}.{k}", key, v, entry_at), entry_at, f"{here}.{key}.{k}"
                )
            table.maps[key] = entries
        else:
            table.attrs[key] = Value(
                coerce(f"{here}.{key}", attr_kind, raw, at), at, f"{here}.{key}"
            )
    return table
