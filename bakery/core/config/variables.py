"""Variables: the final value of each, and ``${NAME}`` expanded in the tables' strings.

Which source wins is ``Variables``'s rule. Expansion runs on the tables as the
files define them, before ``inherits`` and ``--set``: a value given with
``--set`` is used as it is. Nothing here reads ``os.environ``; the caller
passes the environment and the built-ins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bakery.core.config.tables import Table, Value
from bakery.core.errors import ConfigError, CycleError, did_you_mean

BUILTIN_VARIABLES = ("GIT_SHA", "GIT_SHORT_SHA", "GIT_BRANCH", "GIT_TAG", "TIMESTAMP")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--var``; the value may be empty or hold ``=``."""
    name, eq, value = text.partition("=")
    if not eq:
        raise ConfigError(
            f'--var expects NAME=VALUE, got "{text}"',
            where="--var",
            hint="for example --var VERSION=1.2.3",
        )
    if not VARIABLE_NAME.fullmatch(name):
        raise ConfigError(
            f'invalid variable name "{name}" in --var',
            where="--var",
            hint="a name is letters, digits and _, not starting with a digit",
        )
    return name, value


# Limits that keep a hostile or mistaken bake file from taking unbounded time
# and memory: a value that ``${...}`` grows past this is an error, and so is a
# chain of variables that use one another deeper than this.
MAX_EXPANDED = 1 << 20  # characters
MAX_DEPTH = 100


class Variables:
    """Final variable values: ``--var``, then the environment (for names the files
    declare), then the built-ins, then the files' values with their own
    ``${...}`` expanded. Values from the command line, environment and built-ins
    are used as they are."""

    def __init__(
        self,
        declared: Mapping[str, Value],
        *,
        env: Mapping[str, str],
        cli_vars: Mapping[str, str],
        builtins: Mapping[str, str],
    ) -> None:
        self.declared = declared
        self.env = env
        self.cli_vars = cli_vars
        self.builtins = builtins
        self.final: dict[str, str] = {}
        self._resolving: list[str] = []
        for name in cli_vars:
            if name not in declared and name not in builtins and name not in BUILTIN_VARIABLES:
                raise ConfigError(
                    f'unknown variable "{name}" in --var'
                    + did_you_mean(name, [*declared, *builtins, *BUILTIN_VARIABLES]),
                    where="--var",
                    hint="--var sets variables the bake files declare in "
                    "[variables], and the built-ins",
                )

    def resolve_all(self) -> dict[str, str]:
        for name in [*self.declared, *self.builtins, *self.cli_vars]:
            self.get(name, "", "")
        return self.final

    def get(self, name: str, key: str, where: str) -> str:
        if name in self.final:
            return self.final[name]
        if name in self.cli_vars:
            value = self.cli_vars[name]
        elif name in self.declared and name in self.env:
            value = self.env[name]
        elif name in self.builtins:
            value = self.builtins[name]
        elif name in self.declared:
            if name in self._resolving:
                cycle = [*self._resolving[self._resolving.index(name) :], name]
                raise CycleError("variables", cycle, where=self.declared[cycle[0]].origin.where)
            own = self.declared[name]
            if len(self._resolving) >= MAX_DEPTH:
                raise ConfigError(
                    f'variable "{name}" is more than {MAX_DEPTH} variables deep '
                    f"(each using the next)",
                    where=own.origin.where,
                    hint="bakery stops at that depth; use fewer levels of ${...}",
                )
            self._resolving.append(name)
            assert isinstance(own.value, str)
            value = _expand(own.value, self, own.key, own.origin.where)
            self._resolving.pop()
        elif name in BUILTIN_VARIABLES:
            raise ConfigError(
                f'variable "{name}" in {key} is not set: the bake file is not in a git work tree',
                where=where,
                hint=f'give it a fallback in [variables] ({name} = "unknown") '
                f"or pass --var {name}=VALUE",
            )
        else:
            raise ConfigError(
                f'unknown variable "{name}" in {key}'
                + did_you_mean(name, [*self.declared, *self.builtins, *self.cli_vars]),
                where=where,
                hint='declare it in [variables]; write $${ for a literal "${"',
            )
        self.final[name] = value
        return value


def _expand(text: str, variables: Variables, key: str, where: str) -> str:
    """``${NAME}`` replaced by its value; ``$${`` is a literal ``${``; other ``$`` stay."""
    out: list[str] = []
    pos = 0
    size = 0  # of what ``out`` holds, about: enough to stop a runaway expansion
    while (dollar := text.find("$", pos)) >= 0:
        out.append(text[pos:dollar])
        if text.startswith("$${", dollar):
            out.append("${")
            pos = dollar + 3
        elif text.startswith("${", dollar):
            end = text.find("}", dollar)
            name = text[dollar + 2 : end] if end >= 0 else ""
            if end < 0 or not VARIABLE_NAME.fullmatch(name):
                shown = text[dollar : end + 1] if end >= 0 else text[dollar:]
                raise ConfigError(
                    f'bad variable reference "{shown}" in {key}',
                    where=where,
                    hint='write ${NAME}; write $${ for a literal "${"',
                )
            value = variables.get(name, key, where)
            out.append(value)
            size += len(value) + dollar - pos
            if size > MAX_EXPANDED:
                raise ConfigError(
                    f"{key} expands to more than {MAX_EXPANDED // (1 << 20)} MiB",
                    where=where,
                    hint="bakery stops there; a variable may be using another twice, over and over",
                )
            pos = end + 1
        else:
            out.append("$")
            pos = dollar + 1
    out.append(text[pos:])
    return "".join(out)


def _expand_value(value: Value, variables: Variables) -> Value:
    def one(text: str) -> str:
        return _expand(text, variables, value.key, value.origin.where)

    if isinstance(value.value, str):
        return Value(one(value.value), value.origin, value.key)
    if isinstance(value.value, tuple):
        return Value(tuple(one(v) for v in value.value), value.origin, value.key)
    return value


def expand_table(table: Table, variables: Variables) -> None:
    """``${...}`` expanded in every string of ``table``, in place; a problem names the
    key and place of the value it is in."""
    table.attrs = {k: _expand_value(v, variables) for k, v in table.attrs.items()}
    table.maps = {
        name: {k: _expand_value(v, variables) for k, v in entries.items()}
        for name, entries in table.maps.items()
    }
