"""Resolving: all the bake files into one ``Project`` of frozen targets and groups.

``load_project`` runs the steps in their order (read each file, resolve the
variables, expand them, apply ``inherits`` and ``--set``) and then checks
what only the whole can show: a target's values after expansion (tags,
platform, hosts, size, output), paths made absolute, and the links between
targets and groups (unknown names, cycles). Paths are joined as strings,
never looked up.
"""

from __future__ import annotations

import os.path
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from bakery.core.config.model import BuildHost, FrozenMap, Group, Project, SourceFile, Target
from bakery.core.config.overrides import apply_inherits, apply_set
from bakery.core.config.reader import read_file
from bakery.core.config.schema import one_hint
from bakery.core.config.secrets import SecretSource, SshSource, parse_secret, parse_ssh
from bakery.core.config.tables import Origin, Table, Value
from bakery.core.config.variables import Variables, expand_table
from bakery.core.errors import ConfigError, CycleError, did_you_mean
from bakery.core.graph import find_cycle

TARGET_PREFIX = "target:"
DOCKER_IMAGE_PREFIX = "docker-image://"

_REMOTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|git@")
_SIZE = re.compile(r"\s*\d+\s*[bkmg]?b?\s*", re.IGNORECASE)  # as the engine reads shm-size

# A tag as Docker accepts it: [DOMAIN[:PORT]/]PATH[/PATH...][:TAG] (distribution's grammar).
_ALNUM = r"[a-z0-9]+"
_PATH = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REPO = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*")
_TAG = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?")


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
    cache = Table("cache", Origin(files[0].path, files[0].base_dir))
    builders: dict[str, Table] = {}
    for source in files:
        read_file(source, variables, targets, groups, cache=cache, builders=builders)

    resolver = Variables(variables, env=env, cli_vars=cli_vars, builtins=builtins)
    final_vars = resolver.resolve_all()
    for table in [*targets.values(), *groups.values(), cache, *builders.values()]:
        expand_table(table, resolver)

    for name, group in groups.items():
        if name in targets:
            raise ConfigError(
                f'"{name}" is both a target and a group',
                where=group.origin.where,
                hint="rename one of them",
            )

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
        cache_repo=_cache_repo(cache.attrs.get("repo")),
        builders=FrozenMap({name: _build_host(table) for name, table in builders.items()}),
    )


HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://")


def host_error(host: str) -> str | None:
    """What is wrong with ``host`` as a daemon's address, if anything."""
    if not host.startswith(HOST_SCHEMES) or host.endswith("://"):
        return f'"{host}" is not a daemon address'
    return None


def _build_host(table: Table) -> BuildHost:
    host = table.attrs.get("host")
    if host is None:
        raise ConfigError(
            f"builders.{table.name} has no host",
            where=table.origin.where,
            hint='write host = "ssh://user@build-1" (or tcp://HOST:2376, unix:///PATH)',
        )
    assert isinstance(host.value, str)
    problem = host_error(host.value)
    if problem:
        raise ConfigError(
            f"{host.key}: {problem}",
            where=host.origin.where,
            hint="an address as DOCKER_HOST takes it: unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST",
        )
    jobs = table.attrs.get("jobs")
    return BuildHost(table.name, host.value, int(str(jobs.value)) if jobs is not None else None)


def cache_repo_error(repo: str) -> str | None:
    """What is wrong with ``repo`` as the cache's repository, if anything."""
    if not _REPO.fullmatch(repo) or len(repo) > 255:
        return f'"{repo}" is not a repository'
    return None


def _cache_repo(value: Value | None) -> str | None:
    if value is None:
        return None
    assert isinstance(value.value, str)
    problem = cache_repo_error(value.value)
    if problem:
        raise ConfigError(
            f"cache.repo: {problem}",
            where=value.origin.where,
            hint='write "REGISTRY/NAME" without a tag, e.g. "registry.example.com/team/cache": '
            "bakery tags each stage image there by its stage key",
        )
    return value.value


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
            raise ConfigError(
                f'invalid tag "{tag}" in {a["tags"].key}',
                where=a["tags"].origin.where,
                hint="a tag is [REGISTRY/]NAME[:TAG]: NAME in lowercase letters, "
                "digits and . _ -, TAG up to 128 letters, digits and _ . -",
            )

    platform = text("platform")
    if platform is not None and ("," in platform or not platform.strip()):
        what = "no platform" if not platform.strip() else f'"{platform}"'
        raise ConfigError(
            f"{a['platform'].key} takes one platform, not {what}",
            where=a["platform"].origin.where,
            hint=one_hint("platform"),
        )

    hosts = []
    for entry in strings("extra-hosts"):
        host, sep, ip = entry.partition(":") if ":" in entry else entry.partition("=")
        if not sep or not host or not ip:
            value = a["extra-hosts"]
            raise ConfigError(
                f'invalid host "{entry}" in {value.key}',
                where=value.origin.where,
                hint='write "HOST:IP"',
            )
        hosts.append(f"{host}:{ip}")

    shm_size = text("shm-size")
    if shm_size is not None and not _SIZE.fullmatch(shm_size):
        raise ConfigError(
            f'invalid size "{shm_size}" in {a["shm-size"].key}',
            where=a["shm-size"].origin.where,
            hint='a size such as "64m" or "1g"',
        )

    secrets = _session_sources(a.get("secret"), "secret", parse_secret)
    ssh = _session_sources(a.get("ssh"), "ssh", parse_ssh)

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
        secrets=tuple(secrets),
        ssh=tuple(ssh),
        output=_output(a["output"]) if "output" in a else None,
        description=text("description") or "",
    )


S = TypeVar("S", SecretSource, SshSource)


def _session_sources(value: Value | None, what: str, parse: Callable[..., S]) -> list[S]:
    """The entries of ``secret`` or ``ssh``, each id once."""
    if value is None:
        return []
    assert isinstance(value.value, tuple)
    at, base = value.origin.where, value.origin.base_dir
    sources = [parse(entry, base, where=at, key=value.key) for entry in value.value]
    ids = [s.id for s in sources]
    repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if repeated is not None:
        raise ConfigError(
            f'{value.key} gives the {what} id "{repeated}" twice',
            where=value.origin.where,
            hint="each id names one source",
        )
    return sources


def _output(value: Value) -> str:
    """``type=docker`` or ``type=local,dest=DIR`` with DIR made absolute."""
    assert isinstance(value.value, str)
    options: dict[str, str] = {}
    for part in value.value.split(","):
        k, eq, v = part.strip().partition("=")
        if not eq:
            raise ConfigError(
                f'{value.key} takes "type=docker" or "type=local,dest=DIR", not "{value.value}"',
                where=value.origin.where,
            )
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
        raise ConfigError(
            problem,
            where=value.origin.where,
            hint="write type=docker (the default) or type=local,dest=DIR; --push pushes the tags",
        )
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
                raise ConfigError(
                    f'unknown target "{other}" in {value.key}' + did_you_mean(other, targets),
                    where=value.origin.where,
                )
        after[name] = list(target.depends_on)
        needs[name] = list(target.depends_on)
        for context, ref in target.contexts.items():
            if ref.startswith(TARGET_PREFIX):
                other = ref[len(TARGET_PREFIX) :]
                if other not in targets:
                    value = table.maps["contexts"][context]
                    raise ConfigError(
                        f'unknown target "{other}" in {value.key}' + did_you_mean(other, targets),
                        where=value.origin.where,
                        hint='"target:NAME" uses the image of target NAME',
                    )
                needs[name].append(other)
    cycle = find_cycle(after)
    if cycle is not None:
        raise CycleError(
            "depends-on", cycle, where=tables[cycle[0]].attrs["depends-on"].origin.where
        )
    cycle = find_cycle(needs)
    if cycle is not None:
        first, ref = tables[cycle[0]], TARGET_PREFIX + cycle[1]
        links = [v for v in first.maps.get("contexts", {}).values() if v.value == ref]
        if cycle[1] in targets[cycle[0]].depends_on:
            links.insert(0, first.attrs["depends-on"])
        raise CycleError("depends-on and contexts", cycle, where=links[0].origin.where)


def _build_group(table: Table, targets: Mapping[str, Target], groups: Mapping[str, Table]) -> Group:
    value = table.attrs.get("targets")
    members = value.value if value is not None else ()
    assert isinstance(members, tuple)
    for member in members:
        if member not in targets and member not in groups and member != "all":
            assert value is not None
            raise ConfigError(
                f'unknown target or group "{member}" in {value.key}'
                + did_you_mean(member, [*targets, *groups]),
                where=value.origin.where,
            )
    description = table.attrs.get("description")
    return Group(table.name, members, str(description.value) if description else "")


def _check_group_cycles(groups: Mapping[str, Group], tables: Mapping[str, Table]) -> None:
    graph = {name: [m for m in g.targets if m in groups] for name, g in groups.items()}
    cycle = find_cycle(graph)
    if cycle is not None:
        raise CycleError("groups", cycle, where=tables[cycle[0]].attrs["targets"].origin.where)
