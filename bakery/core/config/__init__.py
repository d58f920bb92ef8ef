"""The bake.toml model: files in, resolved targets and groups out.

``load_project`` reads the text of one or more bake files (later files override
earlier ones attribute by attribute), checks every table, key and type,
resolves ``[variables]`` (``--var`` > environment > built-ins > file), expands
``${NAME}`` in every string value, applies ``inherits`` and then ``--set``, and
returns frozen ``Target`` and ``Group`` values with absolute paths. Every
problem is a ``ConfigError`` naming the file and line (or the ``--set`` /
``--var`` argument) and the nearest valid name.

Pure: the caller passes the files' text, the environment, the built-in values
(git, clock) and the command line. Nothing here touches the disk, the clock,
``os.environ`` or a subprocess; paths are joined as strings, never checked.
"""

from __future__ import annotations

import os.path
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tomlkit
import tomlkit.exceptions

from bakery.core.config.model import FrozenMap, Group, Project, SourceFile, Target
from bakery.core.config.overrides import apply_inherits, apply_set
from bakery.core.config.positions import key_lines, scan_keys
from bakery.core.config.schema import (
    DOCS_HINT,
    GROUP_ATTRIBUTES,
    TARGET_ATTRIBUTES,
    TOP_LEVEL_TABLES,
    Kind,
    coerce,
    describe,
    map_value,
    one_hint,
    type_error,
)
from bakery.core.config.tables import Origin, Table, Value
from bakery.core.config.variables import (
    VARIABLE_NAME,
    Variables,
    expand_table,
    parse_assignment,
)
from bakery.core.errors import ConfigError, CycleError, did_you_mean
from bakery.core.graph import find_cycle

__all__ = [
    "FrozenMap",
    "Group",
    "Project",
    "SourceFile",
    "Target",
    "load_project",
    "parse_assignment",
]

TARGET_PREFIX = "target:"
DOCKER_IMAGE_PREFIX = "docker-image://"

_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # target and group names
_REMOTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|git@")
_SIZE = re.compile(r"\s*\d+\s*[bkmg]?b?\s*", re.IGNORECASE)  # as the engine reads shm-size

# A tag as Docker accepts it: [DOMAIN[:PORT]/]PATH[/PATH...][:TAG] (distribution's grammar).
_ALNUM = r"[a-z0-9]+"
_PATH = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?")


# -- reading one file ----------------------------------------------------------------


def load_project(
    files: Sequence[SourceFile],
    *,
    env: Mapping[str, str],
    cli_vars: Mapping[str, str],
    builtins: Mapping[str, str],
    sets: Sequence[str] = (),
    cwd: str | None = None,
) -> Project:
    """Read, merge and resolve bake files. ``cwd`` is what relative paths given with
    ``--set`` are relative to (default: the first file's folder). Raises ConfigError."""
    if not files:
        raise ConfigError("no bake file given")
    variables: dict[str, Value] = {}
    targets: dict[str, Table] = {}
    groups: dict[str, Table] = {}
    for source in files:
        _read_file(source, variables, targets, groups)

    resolver = Variables(variables, env=env, cli_vars=cli_vars, builtins=builtins)
    final_vars = resolver.resolve_all()
    for table in [*targets.values(), *groups.values()]:
        expand_table(table, resolver)

    for name, group in groups.items():
        if name in targets:
            raise ConfigError(f'"{name}" is both a target and a group', where=group.origin.where,
                              hint="rename one of them")

    resolved = apply_inherits(targets)
    set_origin_dir = cwd if cwd is not None else files[0].base_dir
    for text in sets:
        apply_set(text, resolved, set_origin_dir)

    built = {name: _build_target(table) for name, table in resolved.items()}
    _check_target_links(built, resolved)
    built_groups = {name: _build_group(table, built, groups) for name, table in groups.items()}
    _check_group_cycles(built_groups, groups)
    return Project(
        files=tuple(f.path for f in files),
        variables=FrozenMap(final_vars),
        targets=FrozenMap(built),
        groups=FrozenMap(built_groups),
    )


def _parse_toml(source: SourceFile) -> dict[str, Any]:
    # The standard library's reader is several times faster; tomlkit, which
    # `bakery var set` uses to edit files with their comments, words the errors.
    try:
        return tomllib.loads(source.text)
    except tomllib.TOMLDecodeError:
        pass
    try:
        return tomlkit.parse(source.text).unwrap()
    except tomlkit.exceptions.ParseError as err:
        message = re.sub(r" at line \d+ col \d+$", "", str(err))
        message = message.replace("Unexpected character: '\\x00'", "Unexpected end of file")
        raise ConfigError(f"invalid TOML: {message}", where=f"{source.path}:{err.line}",
                          hint="see https://toml.io for the syntax") from None
    except tomlkit.exceptions.TOMLKitError as err:
        # KeyAlreadyPresent carries no position: find the second definition ourselves.
        again = scan_keys(source.text)[1]
        line = min(again.values(), default=None)
        where = f"{source.path}:{line}" if line else source.path
        raise ConfigError(f"invalid TOML: {err}", where=where) from None


def _read_file(
    source: SourceFile,
    variables: dict[str, Value],
    targets: dict[str, Table],
    groups: dict[str, Table],
) -> None:
    doc = _parse_toml(source)
    lines = key_lines(source.text)

    def origin(*path: str) -> Origin:
        for n in range(len(path), 0, -1):
            if path[:n] in lines:
                return Origin(f"{source.path}:{lines[path[:n]]}", source.base_dir)
        return Origin(source.path, source.base_dir)

    for top, body in doc.items():
        if top not in TOP_LEVEL_TABLES:
            raise ConfigError(f'unknown top-level table "{top}"'
                              + did_you_mean(top, TOP_LEVEL_TABLES),
                              where=origin(top).where,
                              hint="a bake file has [variables], [group.NAME] and "
                                   "[target.NAME] tables")
        if not isinstance(body, dict):
            shape = "[variables]" if top == "variables" else f"[{top}.NAME]"
            raise ConfigError(f"{top} must be a table {shape}, not {describe(body)}",
                              where=origin(top).where)
        if top == "variables":
            for name, value in body.items():
                variables[name] = _read_variable(name, value, origin("variables", name))
            continue
        known = TARGET_ATTRIBUTES if top == "target" else GROUP_ATTRIBUTES
        into = targets if top == "target" else groups
        for name, attrs in body.items():
            table = _read_table(top, name, attrs, known, origin)
            if name in into:
                into[name].merge(table)
            else:
                into[name] = table


def _read_variable(name: str, value: object, origin: Origin) -> Value:
    if not VARIABLE_NAME.fullmatch(name):
        raise ConfigError(f'invalid variable name "{name}"', where=origin.where,
                          hint="a name is letters, digits and _, not starting with a digit")
    if isinstance(value, bool):
        return Value("true" if value else "false", origin, f"variables.{name}")
    if isinstance(value, str | int | float):
        return Value(str(value), origin, f"variables.{name}")
    raise ConfigError(f"variables.{name} must be a string, not {describe(value)}",
                      where=origin.where)


def _read_table(
    kind: str,
    name: str,
    attrs: object,
    known: Mapping[str, Kind],
    origin: Callable[..., Origin],
) -> Table:
    here = f"{kind}.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(f'invalid {kind} name "{name}"', where=origin(kind, name).where,
                          hint='a name is letters, digits, "-", "_" and "."')
    if not isinstance(attrs, dict):
        raise ConfigError(f"{here} must be a table, not {describe(attrs)}",
                          where=origin(kind, name).where,
                          hint=f"write [{here}] and its attributes below it")
    table = Table(name, origin(kind, name))
    for key, raw in attrs.items():
        at = origin(kind, name, key)
        if key not in known:
            raise ConfigError(f'unknown attribute "{key}" in {here}' + did_you_mean(key, known),
                              where=at.where, hint=DOCS_HINT)
        attr_kind = known[key]
        if attr_kind is Kind.MAP:
            if not isinstance(raw, dict):
                raise type_error(f"{here}.{key}", attr_kind, raw, at)
            entries = {}
            for k, v in raw.items():
                entry_at = origin(kind, name, key, k)
                entries[k] = Value(map_value(f"{here}.{key}.{k}", key, v, entry_at),
                                    entry_at, f"{here}.{key}.{k}")
            table.maps[key] = entries
        else:
            table.attrs[key] = Value(coerce(f"{here}.{key}", attr_kind, raw, at), at,
                                      f"{here}.{key}")
    return table


# -- building the frozen values ------------------------------------------------------


def _resolve_path(path: str, base_dir: str) -> str:
    if _REMOTE.match(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def _build_target(table: Table) -> Target:
    a = table.attrs

    def text(name: str) -> str | None:
        value = a.get(name)
        if value is None:
            return None
        assert isinstance(value.value, str)
        return value.value

    def strings(name: str) -> tuple[str, ...]:
        value = a.get(name)
        if value is None:
            return ()
        assert isinstance(value.value, tuple)
        return value.value

    def mapping(name: str) -> dict[str, str]:
        return {k: str(v.value) for k, v in table.maps.get(name, {}).items()}

    context_value = a.get("context")
    context_origin = context_value.origin if context_value is not None else table.origin
    context = _resolve_path(text("context") or ".", context_origin.base_dir)
    dockerfile = text("dockerfile") or "Dockerfile"
    if not _REMOTE.match(context):
        dockerfile = os.path.normpath(os.path.join(context, dockerfile))

    for tag in strings("tags"):
        if not _TAG.fullmatch(tag) or len(tag.partition(":")[0]) > 255:
            raise ConfigError(f'invalid tag "{tag}" in {a["tags"].key}',
                              where=a["tags"].origin.where,
                              hint="a tag is [REGISTRY/]NAME[:TAG]: NAME in lowercase letters, "
                                   "digits and . _ -, TAG up to 128 letters, digits and _ . -")

    platform = text("platform")
    if platform is not None and ("," in platform or not platform.strip()):
        what = "no platform" if not platform.strip() else f'"{platform}"'
        raise ConfigError(f"{a['platform'].key} takes one platform, not {what}",
                          where=a["platform"].origin.where, hint=one_hint("platform"))

    hosts = []
    for entry in strings("extra-hosts"):
        host, sep, ip = entry.partition(":") if ":" in entry else entry.partition("=")
        if not sep or not host or not ip:
            value = a["extra-hosts"]
            raise ConfigError(f'invalid host "{entry}" in {value.key}',
                              where=value.origin.where, hint='write "HOST:IP"')
        hosts.append(f"{host}:{ip}")

    shm_size = text("shm-size")
    if shm_size is not None and not _SIZE.fullmatch(shm_size):
        raise ConfigError(f'invalid size "{shm_size}" in {a["shm-size"].key}',
                          where=a["shm-size"].origin.where, hint='a size such as "64m" or "1g"')

    contexts = {}
    for name, value in table.maps.get("contexts", {}).items():
        assert isinstance(value.value, str)
        ref = value.value
        if not ref.startswith((TARGET_PREFIX, DOCKER_IMAGE_PREFIX)):
            ref = _resolve_path(ref, value.origin.base_dir)
        contexts[name] = ref

    return Target(
        name=table.name,
        context=context,
        dockerfile=dockerfile,
        dockerfile_inline=text("dockerfile-inline"),
        target=text("target"),
        tags=strings("tags"),
        args=mapping("args"),
        labels=mapping("labels"),
        platform=platform,
        inherits=strings("inherits"),
        depends_on=strings("depends-on"),
        contexts=contexts,
        cache_from=strings("cache-from"),
        no_cache=a["no-cache"].value is True if "no-cache" in a else False,
        pull=a["pull"].value is True if "pull" in a else False,
        network=text("network"),
        extra_hosts=tuple(hosts),
        shm_size=shm_size,
        output=_output(a["output"]) if "output" in a else None,
        description=text("description") or "",
    )


def _output(value: Value) -> str:
    """``type=docker`` or ``type=local,dest=DIR`` with DIR made absolute."""
    assert isinstance(value.value, str)
    options: dict[str, str] = {}
    for part in value.value.split(","):
        k, eq, v = part.strip().partition("=")
        if not eq:
            raise ConfigError(f'{value.key} takes "type=docker" or "type=local,dest=DIR", '
                              f'not "{value.value}"', where=value.origin.where)
        options[k.strip()] = v.strip()
    kind = options.pop("type", "")
    dest = options.pop("dest", None)
    problem = None
    if kind not in ("docker", "local"):
        problem = f'unsupported output type "{kind}" in {value.key}'
    elif options:
        problem = f'unknown output option "{next(iter(options))}" in {value.key}'
    elif kind == "local" and not dest:
        problem = f"{value.key} of type local needs dest=DIR"
    elif kind == "docker" and dest is not None:
        problem = f"{value.key} of type docker takes no dest"
    if problem:
        raise ConfigError(problem, where=value.origin.where,
                          hint="write type=docker (the default) or type=local,dest=DIR; "
                               "--push pushes the tags")
    if kind == "docker":
        return "type=docker"
    assert dest is not None
    return f"type=local,dest={os.path.normpath(os.path.join(value.origin.base_dir, dest))}"


def _check_target_links(targets: Mapping[str, Target], tables: Mapping[str, Table]) -> None:
    """depends-on and ``target:`` contexts name targets, and make no cycle."""
    after: dict[str, list[str]] = {}
    needs: dict[str, list[str]] = {}
    for name, target in targets.items():
        table = tables[name]
        for other in target.depends_on:
            if other not in targets:
                value = table.attrs["depends-on"]
                raise ConfigError(f'unknown target "{other}" in {value.key}'
                                  + did_you_mean(other, targets), where=value.origin.where)
        after[name] = list(target.depends_on)
        needs[name] = list(target.depends_on)
        for context, ref in target.contexts.items():
            if ref.startswith(TARGET_PREFIX):
                other = ref[len(TARGET_PREFIX):]
                if other not in targets:
                    value = table.maps["contexts"][context]
                    raise ConfigError(f'unknown target "{other}" in {value.key}'
                                      + did_you_mean(other, targets), where=value.origin.where,
                                      hint='"target:NAME" uses the image of target NAME')
                needs[name].append(other)
    cycle = find_cycle(after)
    if cycle is not None:
        raise CycleError("depends-on", cycle,
                         where=tables[cycle[0]].attrs["depends-on"].origin.where)
    cycle = find_cycle(needs)
    if cycle is not None:
        first, ref = tables[cycle[0]], TARGET_PREFIX + cycle[1]
        links = [v for v in first.maps.get("contexts", {}).values() if v.value == ref]
        if cycle[1] in targets[cycle[0]].depends_on:
            links.insert(0, first.attrs["depends-on"])
        raise CycleError("depends-on and contexts", cycle, where=links[0].origin.where)


def _build_group(table: Table, targets: Mapping[str, Target],
                 groups: Mapping[str, Table]) -> Group:
    value = table.attrs.get("targets")
    members = value.value if value is not None else ()
    assert isinstance(members, tuple)
    for member in members:
        if member not in targets and member not in groups and member != "all":
            assert value is not None
            raise ConfigError(f'unknown target or group "{member}" in {value.key}'
                              + did_you_mean(member, [*targets, *groups]),
                              where=value.origin.where)
    description = table.attrs.get("description")
    return Group(table.name, members, str(description.value) if description else "")


def _check_group_cycles(groups: Mapping[str, Group], tables: Mapping[str, Table]) -> None:
    graph = {name: [m for m in g.targets if m in groups] for name, g in groups.items()}
    cycle = find_cycle(graph)
    if cycle is not None:
        raise CycleError("groups", cycle,
                         where=tables[cycle[0]].attrs["targets"].origin.where)
