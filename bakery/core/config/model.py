"""The bake.toml model: the frozen values ``load_project`` returns.

``Target``, ``Group`` and ``Project`` are what the rest of bakery reads; they
are resolved already (variables expanded, ``inherits`` and ``--set`` applied,
paths absolute), so nothing downstream needs to know about bake files. Data
only: no reading, no checks of attribute values; those belong to the modules
that build these values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bakery.core.config.secrets import SecretSource, SshSource
from bakery.core.errors import ConfigError, CycleError, did_you_mean

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable mapping that keeps insertion order."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _empty_map() -> FrozenMap[str, str]:
    return FrozenMap()


@dataclass(frozen=True)
class SourceFile:
    """One bake file as the CLI read it.

    ``path`` is shown in messages as the user named it. ``base_dir`` is that
    file's folder, absolute: relative paths an attribute gives (``context``,
    path ``contexts``, ``output`` dest) resolve against the folder of the file
    that defines the attribute. (buildx resolves them against the working
    directory; for bake.toml next to the sources the two agree.)
    """

    path: str
    text: str
    base_dir: str


@dataclass(frozen=True)
class Target:
    """One image to build, fully resolved."""

    name: str
    context: str = "."  # absolute path, or a URL / docker-image:// ref as written
    dockerfile: str = "Dockerfile"  # absolute (relative to context); as is for a remote context
    dockerfile_inline: str | None = None
    target: str | None = None  # Dockerfile stage; None = the last stage
    tags: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=_empty_map)
    labels: Mapping[str, str] = field(default_factory=_empty_map)
    platform: str | None = None  # exactly one
    inherits: tuple[str, ...] = ()  # as written; already applied
    depends_on: tuple[str, ...] = ()
    contexts: Mapping[str, str] = field(default_factory=_empty_map)  # "target:x", path, or URL
    cache_from: tuple[str, ...] = ()
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    extra_hosts: tuple[str, ...] = ()  # "host:ip"
    shm_size: str | None = None
    secrets: tuple[SecretSource, ...] = ()  # ids and sources, never values
    ssh: tuple[SshSource, ...] = ()
    output: str | None = None  # None (type=docker), "type=docker" or "type=local,dest=/abs"
    description: str = ""

    def __post_init__(self) -> None:
        # Accept plain dicts and lists from callers; keep the value frozen and hashable.
        for name in ("args", "labels", "contexts"):
            object.__setattr__(self, name, FrozenMap(getattr(self, name)))
        for name in (
            "tags",
            "inherits",
            "depends_on",
            "cache_from",
            "extra_hosts",
            "secrets",
            "ssh",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_json(self) -> dict[str, object]:
        """The target as ``bakery print`` shows it: bake.toml's kebab-case keys.

        ``context`` and ``dockerfile`` are always there; other attributes only
        when set. ``inherits`` is left out: it is already applied.
        """
        out: dict[str, object] = {"context": self.context, "dockerfile": self.dockerfile}
        optional: dict[str, object] = {
            "dockerfile-inline": self.dockerfile_inline,
            "target": self.target,
            "tags": list(self.tags),
            "args": dict(self.args),
            "labels": dict(self.labels),
            "platform": self.platform,
            "depends-on": list(self.depends_on),
            "contexts": dict(self.contexts),
            "cache-from": list(self.cache_from),
            "no-cache": self.no_cache,
            "pull": self.pull,
            "network": self.network,
            "extra-hosts": list(self.extra_hosts),
            "shm-size": self.shm_size,
            "secret": [s.describe() for s in self.secrets],
            "ssh": [s.describe() for s in self.ssh],
            "output": self.output,
            "description": self.description,
        }
        out.update((k, v) for k, v in optional.items() if v not in (None, "", [], {}, False))
        return out


@dataclass(frozen=True)
class Group:
    """A named list of targets and groups."""

    name: str
    targets: tuple[str, ...]  # target or group names, as written
    description: str = ""


@dataclass(frozen=True)
class BuildHost:
    """A Docker daemon to build on: ``[builders.NAME]`` or ``--host``."""

    name: str
    host: str  # unix://, tcp:// or ssh://, as DOCKER_HOST takes it
    jobs: int | None = None  # builds at once there; None: the daemon's CPU count


@dataclass(frozen=True)
class Project:
    """Everything the bake files say, resolved."""

    files: tuple[str, ...]
    variables: Mapping[str, str]  # final values, built-ins included
    targets: Mapping[str, Target]  # in the order the files first define them
    groups: Mapping[str, Group]
    cache_repo: str | None = None  # [cache] repo: where stage images are kept by key
    builders: Mapping[str, BuildHost] = field(default_factory=dict)  # none: DOCKER_HOST's

    def select(self, names: Sequence[str]) -> tuple[str, ...]:
        """Target names for ``bakery build NAME...``.

        Groups expand (nested), ``all`` is every target unless a group or target
        is called ``all``, no names means ``default`` if defined else ``all``.
        Order is kept, duplicates dropped. Unknown names, and names that select
        no target, are a ConfigError.
        """
        if not names:
            names = ["default"] if "default" in self.groups else ["all"]
        out: dict[str, None] = {}
        for name in names:
            self._expand(name, out)
        if not out:
            # Nothing to plan or build is a mistake to name, not an empty report.
            groups = [n for n in names if n in self.groups]
            raise ConfigError(
                f'group "{groups[0]}" has no targets' if groups else "there are no targets",
                where=f"group.{groups[0]}" if groups else None,
                hint="list targets in the group, or name the targets to build "
                "(`bakery list` shows them)",
            )
        return tuple(out)

    def _expand(self, root: str, out: dict[str, None]) -> None:
        """Add the targets ``root`` names to ``out``, depth first, in order; without
        recursion, since groups may nest deep. Each entry has the groups above it."""
        todo: list[tuple[str, tuple[str, ...]]] = [(root, ())]
        while todo:
            name, above = todo.pop()
            self._expand_one(name, above, out, todo)

    def _expand_one(
        self,
        name: str,
        above: tuple[str, ...],
        out: dict[str, None],
        todo: list[tuple[str, tuple[str, ...]]],
    ) -> None:
        if name in self.targets:
            out[name] = None
        elif name in self.groups:
            if name in above:
                raise CycleError("groups", [*above[above.index(name) :], name])
            members = self.groups[name].targets
            todo.extend((m, (*above, name)) for m in reversed(members))
        elif name == "all":
            out.update(dict.fromkeys(self.targets))
        else:
            raise ConfigError(
                f'unknown target or group "{name}"'
                + did_you_mean(name, [*self.targets, *self.groups]),
                hint="`bakery list` shows the targets and groups",
            )
