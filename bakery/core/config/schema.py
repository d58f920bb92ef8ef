"""What a bake file may say: its tables, each attribute's kind, and the type checks.

The attributes are data (``TARGET_ATTRIBUTES``, ``GROUP_ATTRIBUTES``) so that
reading a file, ``--set`` and the did-you-mean hints all agree on one list.
``coerce`` turns a TOML value into the one Python type each kind has, so that
later steps never look at TOML types again. No reading of text here, and no
checks that need other values (links between targets, tag syntax after
expansion): those come after variables are resolved.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from bakery.core.config.model import FrozenMap
from bakery.core.config.tables import Origin
from bakery.core.errors import ConfigError

TOP_LEVEL_TABLES = ("variables", "group", "target", "cache", "builders")
DOCS_HINT = "docs/bake-toml.md lists every attribute"


class Kind(enum.Enum):
    """The type an attribute takes; the value is how messages name it."""

    STRING = "a string"
    LIST = "a list of strings"
    MAP = "a table of strings"
    BOOL = "true or false"
    ONE = "a string or a list of one string"  # bake writes platforms and outputs as lists
    SIZE = "a size"  # a string or an integer
    HOSTS = 'a list of "host:ip" strings or a table'
    COUNT = "a positive integer"


TARGET_ATTRIBUTES: Mapping[str, Kind] = FrozenMap(
    {
        "context": Kind.STRING,
        "dockerfile": Kind.STRING,
        "dockerfile-inline": Kind.STRING,
        "target": Kind.STRING,
        "tags": Kind.LIST,
        "args": Kind.MAP,
        "labels": Kind.MAP,
        "platform": Kind.ONE,
        "inherits": Kind.LIST,
        "depends-on": Kind.LIST,
        "contexts": Kind.MAP,
        "cache-from": Kind.LIST,
        "no-cache": Kind.BOOL,
        "pull": Kind.BOOL,
        "network": Kind.STRING,
        "extra-hosts": Kind.HOSTS,
        "shm-size": Kind.SIZE,
        "secret": Kind.LIST,
        "ssh": Kind.LIST,
        "output": Kind.ONE,
        "description": Kind.STRING,
    }
)
CACHE_ATTRIBUTES: Mapping[str, Kind] = FrozenMap({"repo": Kind.STRING})
BUILDER_ATTRIBUTES: Mapping[str, Kind] = FrozenMap({"host": Kind.STRING, "jobs": Kind.COUNT})
GROUP_ATTRIBUTES: Mapping[str, Kind] = FrozenMap(
    {
        "targets": Kind.LIST,
        "description": Kind.STRING,
    }
)


# How messages name the types TOML gives; bool before int, as a bool is an int.
# Whatever else TOML gives is a date or a time.
_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (str, "a string"),
    (int, "an integer"),
    (float, "a float"),
    (list, "a list"),
    (dict, "a table"),
)


def describe(value: object) -> str:
    """A TOML value's type as a type error names it: "a string", "a table"..."""
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "a date")


def type_error(key: str, kind: Kind, value: object, at: Origin) -> ConfigError:
    """``KEY must be KIND, not ...``; in a list, the first item that is no string."""
    got = describe(value)
    if isinstance(value, list):
        bad = [i for i, item in enumerate(value, 1) if not isinstance(item, str)]
        if bad:
            got = f"item {bad[0]} is {describe(value[bad[0] - 1])}"
    return ConfigError(f"{key} must be {kind.value}, not {got}", where=at.where)


def coerce(key: str, kind: Kind, value: object, at: Origin) -> str | bool | tuple[str, ...]:
    """The canonical Python value of a TOML value, or a ConfigError."""
    strings = (
        tuple(str(v) for v in value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value)
        else None
    )
    if kind is Kind.STRING and isinstance(value, str):
        return value
    if kind is Kind.BOOL and isinstance(value, bool):
        return value
    if kind is Kind.COUNT and isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if kind is Kind.SIZE and isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    if kind is Kind.LIST and strings is not None:
        return strings
    if kind is Kind.ONE:
        if isinstance(value, str):
            return value
        if strings is not None:
            if len(strings) == 1:
                return strings[0]
            what = key.rsplit(".", 1)[-1]
            raise ConfigError(
                f"{key} takes one {what}, not {len(strings)}", where=at.where, hint=one_hint(what)
            )
    if kind is Kind.HOSTS:
        if strings is not None:
            return strings
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return tuple(f"{host}:{ip}" for host, ip in value.items())
    raise type_error(key, kind, value, at)


def one_hint(what: str) -> str:
    """Why ``platform`` or ``output`` takes one value, where bake takes a list."""
    if what == "platform":
        return (
            "bakery builds one platform per target: define a target per platform "
            "(inherits keeps them short)"
        )
    return "a target has one output"


def map_value(key: str, attr: str, value: object, at: Origin) -> str:
    """One entry of a table attribute as a string. ``args`` and ``labels`` take
    numbers and booleans as TOML writes them; ``contexts`` name places, so only strings."""
    if isinstance(value, str):
        return value
    if attr != "contexts" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if attr != "contexts" and isinstance(value, bool):
        return "true" if value else "false"
    wanted = "a string" if attr == "contexts" else "a string, number or boolean"
    raise ConfigError(f"{key} must be {wanted}, not {describe(value)}", where=at.where)
