"""Editing bake files in place: ``bakery var set`` and ``bakery init``.

Text in, text out, through tomlkit, so that comments, order and layout of
what is already there are kept. Pure: the CLI reads and writes the files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import tomlkit
import tomlkit.exceptions
import tomlkit.items
from tomlkit.items import Table

from bakery.core.errors import ConfigError
from bakery.core.stages import StageGraph

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TARGET = re.compile(r"[^a-z0-9_.-]+")


def _parse(text: str, where: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as err:
        raise ConfigError(
            f"invalid TOML: {err}",
            where=f"{where}:{err.line}",
            hint="fix the file first; bakery edits only valid files",
        ) from None


def set_variable(text: str, name: str, value: str, *, where: str = "bake.toml") -> str:
    """``text`` with ``[variables] NAME = "VALUE"`` set, everything else kept."""
    if not _NAME.match(name):
        raise ConfigError(
            f'"{name}" is not a variable name',
            where=where,
            hint="a name has letters, digits and _, and does not start with a digit",
        )
    doc = _parse(text, where)
    variables = doc.get("variables")
    if variables is None:
        table = tomlkit.table()
        table.add(name, value)
        # [variables] goes first, where readers look for it.
        items = list(doc.items())
        for key, _ in items:
            doc.remove(key)
        doc.add("variables", table)
        for key, item in items:
            doc.add(key, item)
    elif isinstance(variables, tomlkit.items.InlineTable):
        # variables = { A = "1" }: set the key in place, the line keeps its form.
        variables[name] = value
    elif not isinstance(variables, Table):
        raise ConfigError('"variables" is not a table', where=where, hint="write it as [variables]")
    elif name in variables:
        old = variables.item(name)
        if not isinstance(old, tomlkit.items.Item) or isinstance(
            old, Table | tomlkit.items.InlineTable | tomlkit.items.AoT
        ):
            raise ConfigError(
                f'"variables.{name}" is a table, not a value',
                where=where,
                hint="a variable is a string",
            )
        new = tomlkit.item(value)
        new.trivia.comment = old.trivia.comment
        new.trivia.comment_ws = old.trivia.comment_ws
        new.trivia.trail = old.trivia.trail
        variables[name] = new
    else:
        variables.add(name, value)
    return tomlkit.dumps(doc)


def final_stages(graph: StageGraph) -> list[int]:
    """The stages no other stage reads from: the images a Dockerfile makes."""
    read = {i for s in graph.stages for i in s.needs}
    return [s.index for s in graph.stages if s.index not in read]


def init_text(
    existing: str | None,
    graph: StageGraph,
    *,
    dockerfile: str = "Dockerfile",
    project: str = "app",
    where: str = "bake.toml",
) -> tuple[str, Sequence[str]]:
    """A bake file with one target per final stage of ``graph``: a new file, or
    ``existing`` with the targets it lacks added (its comments kept). Returns
    the text and the names of the targets added."""
    doc = _parse(existing, where) if existing is not None else tomlkit.document()
    if existing is None:
        doc.add(
            tomlkit.comment(
                "bakery build file: `bakery list`, `bakery plan`, "
                "`bakery build`. See docs/bake-toml.md."
            )
        )
        doc.add(tomlkit.nl())
    targets = doc.get("target")
    if targets is None:
        targets = tomlkit.table(is_super_table=True)
        doc.add("target", targets)
    elif not isinstance(targets, Table):
        raise ConfigError(
            '"target" is not written as [target.NAME] tables',
            where=where,
            hint="bakery init adds [target.NAME] tables; write the targets "
            "that way, or add them by hand",
        )
    # Stages some target already builds: by stage name, or "" for the last stage.
    built = set()
    for table in targets.values():
        if isinstance(table, Table | tomlkit.items.InlineTable):
            built.add(str(table.get("target", "")).lower())
    last = len(graph.stages) - 1
    added: list[str] = []
    for index in final_stages(graph):
        stage = graph.stages[index]
        if (stage.name or ("" if index == last else str(index))) in built:
            continue
        base = stage.written_name or (project if index == last else f"{project}-{index}")
        name = _TARGET.sub("-", base.lower()).strip("-") or "app"
        if name in targets:
            name = f"{name}-{index}"
        table = tomlkit.table()
        if dockerfile != "Dockerfile":
            table.add("dockerfile", dockerfile)
        if stage.written_name is not None:
            table.add("target", stage.written_name)
        elif index != last:
            table.add("target", str(index))
        table.add("tags", [f"{name}:latest"])
        targets.add(name, table)
        added.append(name)
    if existing is None and added:
        group = tomlkit.table()
        group.add("targets", added)
        groups = tomlkit.table(is_super_table=True)
        groups.add("default", group)
        doc.add("group", groups)
    return tomlkit.dumps(doc), added
