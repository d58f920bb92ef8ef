"""The stage graph of one Dockerfile.

Splits a parsed Dockerfile into stages and finds what each stage reads from:
its ``FROM`` parent, ``COPY/ADD --from`` sources and ``RUN --mount=...,from=``
sources, each resolved to another stage (by name, case-insensitively, or by
index), a named context, ``scratch``, or an external image. Global ARGs before
the first FROM, overridden by build arguments, and the automatic platform ARGs
are expanded in FROM, ``--platform`` and ``--from`` as BuildKit does. A target
needs exactly the stages reachable from its stage. Pure: no daemon, no disk.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bakery.core.dockerfile import Dockerfile, Instruction, parse_mount
from bakery.core.errors import DockerfileError, did_you_mean
from bakery.core.graph import find_cycle, reachable, topological_order
from bakery.core.shell import expand

# Build arguments Docker accepts without an ARG instruction (they reach RUN steps).
PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
# The automatic ARGs that name the target platform: a stage that declares one
# builds differently for each target platform, even on a fixed --platform.
TARGET_PLATFORM_ARGS = frozenset(("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"))
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


class SourceKind(enum.Enum):
    STAGE = "stage"
    IMAGE = "image"
    CONTEXT = "context"  # a named context (bake.toml ``contexts``)
    SCRATCH = "scratch"


@dataclass(frozen=True)
class Source:
    """Something a stage reads: its base or a ``--from``."""

    kind: SourceKind
    ref: str  # resolved: an image reference, a context name, or the stage's display name
    via: str  # "from", "copy" or "mount"
    line: int
    stage: int | None = None  # for STAGE: the index of that stage


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None  # lower-cased, as Docker compares names
    written_name: str | None  # as written after AS
    base: Source
    platform: str | None  # the expanded --platform of FROM, when given
    instructions: tuple[Instruction, ...]  # FROM first
    sources: tuple[Source, ...]  # base first, then --from sources in order
    arg_names: tuple[str, ...]  # ARGs the stage declares, in order
    start_line: int
    end_line: int

    @property
    def display_name(self) -> str:
        return self.written_name if self.written_name is not None else str(self.index)

    @property
    def needs(self) -> tuple[int, ...]:
        """Indices of the stages this one reads from, without repeats."""
        return tuple(dict.fromkeys(s.stage for s in self.sources if s.stage is not None))


@dataclass(frozen=True)
class Platform:
    """The build and target platforms, for the automatic platform ARGs."""

    build: str = "linux/amd64"
    target: str | None = None  # None: same as build

    def args(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for prefix, value in (("BUILD", self.build), ("TARGET", self.target or self.build)):
            parts = [*value.split("/"), "", ""]
            out[f"{prefix}PLATFORM"] = value
            out[f"{prefix}OS"] = parts[0]
            out[f"{prefix}ARCH"] = parts[1]
            out[f"{prefix}VARIANT"] = parts[2]
        return out


@dataclass(frozen=True)
class StageGraph:
    dockerfile: Dockerfile
    stages: tuple[Stage, ...]
    meta_args: Mapping[str, str]  # global ARGs, with build args and platform ARGs applied
    meta_arg_names: tuple[str, ...] = ()
    _by_name: Mapping[str, int] = field(default_factory=dict, repr=False)

    def find(self, ref: str) -> Stage | None:
        """A stage by name (case-insensitive) or index, or None."""
        index = self._by_name.get(ref.lower())
        if index is None and ref.isdigit() and int(ref) < len(self.stages):
            index = int(ref)
        return self.stages[index] if index is not None else None

    def stage(self, ref: str | None, *, where: str | None = None) -> Stage:
        """A stage by name or index, the last stage for None; DockerfileError if missing."""
        if ref is None:
            return self.stages[-1]
        found = self.find(ref)
        if found is None:
            names = [s.written_name for s in self.stages if s.written_name]
            raise DockerfileError(
                f'stage "{ref}" is not in {self.dockerfile.name}{did_you_mean(ref, names)}',
                where=where,
                hint="stages: " + (", ".join(names) or "(none named)"),
            )
        return found

    def needed(self, stage: Stage) -> tuple[Stage, ...]:
        """The stages ``stage`` needs, itself included, each after what it needs."""
        graph = {s.index: s.needs for s in self.stages}
        keep = reachable(graph, [stage.index])
        return tuple(self.stages[i] for i in topological_order(graph) if i in keep)

    def externals(self, stages: Collection[Stage]) -> tuple[str, ...]:
        """External images the given stages read, in order of first use."""
        refs = (src.ref for s in stages for src in s.sources if src.kind is SourceKind.IMAGE)
        return tuple(dict.fromkeys(refs))


def _declare_args(
    ins: Instruction,
    values: dict[str, str],
    names: list[str],
    *,
    build_args: Mapping[str, str],
    escape: str,
    name: str,
    inherited: Mapping[str, str] | None = None,
) -> None:
    """An ARG line: each name declared, its value the build argument, else its
    default expanded, else (inside a stage) the global value."""
    for arg, default in _arg_pairs(ins):
        names.append(arg)
        if arg in build_args:
            values[arg] = build_args[arg]
        elif default is not None:
            values[arg] = _expand(default, values, escape, name, ins)
        elif inherited is not None and arg in inherited:
            values[arg] = inherited[arg]


def _arg_pairs(instruction: Instruction) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for word in instruction.args:
        name, sep, value = word.partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def read_stages(
    dockerfile: Dockerfile,
    *,
    build_args: Mapping[str, str] | None = None,
    platform: Platform | None = None,
    contexts: Collection[str] = (),
) -> StageGraph:
    """Build the stage graph of ``dockerfile`` for the given build arguments."""
    build_args = build_args or {}
    platform = platform or Platform()
    escape = dockerfile.escape
    name = dockerfile.name
    lowered_contexts = {c.lower(): c for c in contexts}

    # Global ARGs: each default may use the ARGs before it; build args win.
    meta: dict[str, str] = dict(platform.args())
    meta_names: list[str] = []
    first_from = 0
    for first_from, ins in enumerate(dockerfile.instructions):  # noqa: B007 - index used after
        if ins.keyword == "from":
            break
        if ins.keyword == "arg":
            _declare_args(ins, meta, meta_names, build_args=build_args, escape=escape, name=name)
        elif ins.keyword not in ("from",):
            raise DockerfileError(
                f"{ins.keyword.upper()} before the first FROM",
                where=f"{name}:{ins.start_line}",
                hint="only ARG instructions may come before the first FROM",
            )
    else:
        raise DockerfileError(
            "no FROM instruction", where=name, hint="a Dockerfile needs at least one stage"
        )

    # Split into stages.
    chunks: list[list[Instruction]] = []
    for ins in dockerfile.instructions[first_from:]:
        if ins.keyword == "from":
            chunks.append([])
        chunks[-1].append(ins)

    by_name: dict[str, int] = {}
    heads: list[tuple[str, str | None, str | None]] = []  # (base, written name, platform)
    for index, chunk in enumerate(chunks):
        head = chunk[0]
        where = f"{name}:{head.start_line}"
        args = list(head.args)
        written: str | None = None
        if len(args) == 3 and args[1].lower() == "as":
            written = args[2]
            if not _STAGE_NAME.match(written.lower()):
                raise DockerfileError(
                    f'invalid stage name "{written}"',
                    where=where,
                    hint="a stage name starts with a letter and holds letters, digits, -, _ and .",
                )
            if written.lower() in by_name:
                raise DockerfileError(
                    f'duplicate stage name "{written}"',
                    where=where,
                    hint=f"stage {by_name[written.lower()]} already has this name",
                )
            by_name[written.lower()] = index
        elif len(args) != 1:
            raise DockerfileError(
                "FROM takes an image and an optional AS name",
                where=where,
                hint="write FROM image [AS name]",
            )
        base = _expand(args[0], meta, escape, name, head)
        if not base:
            raise DockerfileError(
                f'the base of stage {written or index} is empty after expanding "{args[0]}"',
                where=where,
                hint="give the ARG a default or pass it as a build argument",
            )
        plat_flag = head.flag("platform")
        plat = _expand(plat_flag, meta, escape, name, head) if plat_flag else None
        heads.append((base, written, plat))

    stages: list[Stage] = []
    for index, chunk in enumerate(chunks):
        base_ref, written, plat = heads[index]
        head = chunk[0]
        base_source = _resolve(
            base_ref,
            "from",
            head.start_line,
            current=index,
            by_name=by_name,
            contexts=lowered_contexts,
            allow_index=False,
        )
        sources: list[Source] = [base_source]

        def source_of(value: str, via: str, line: int, index: int = index) -> Source:
            """A ``--from`` of this stage: a stage by name or index, a context, an image."""
            return _resolve(
                value, via, line, current=index, by_name=by_name, contexts=lowered_contexts,
                allow_index=True, count=len(chunks), where=f"{name}:{line}",
            )  # fmt: skip

        # ARGs seen so far in this stage (with their values) expand --from like BuildKit.
        # Inside a stage only its own ARGs are visible (a bare ARG takes the global value).
        env: dict[str, str] = {}
        arg_names: list[str] = []
        for ins in chunk[1:]:
            if ins.keyword == "arg":
                _declare_args(
                    ins,
                    env,
                    arg_names,
                    build_args=build_args,
                    escape=escape,
                    name=name,
                    inherited=meta,
                )
            elif ins.keyword in ("copy", "add"):
                ref = ins.flag("from")
                if ref:
                    value = _expand(ref, env, escape, name, ins)
                    sources.append(source_of(value, "copy", ins.start_line))
            elif ins.keyword == "run":
                for raw in ins.flag_values("mount"):
                    mount = parse_mount(raw, where=f"{name}:{ins.start_line}")
                    if mount.from_:
                        value = _expand(mount.from_, env, escape, name, ins)
                        sources.append(source_of(value, "mount", ins.start_line))
        stages.append(
            Stage(
                index=index,
                name=written.lower() if written else None,
                written_name=written,
                base=base_source,
                platform=plat,
                instructions=tuple(chunk),
                sources=tuple(sources),
                arg_names=tuple(arg_names),
                start_line=head.start_line,
                end_line=chunk[-1].end_line,
            )
        )

    graph = {s.index: s.needs for s in stages}
    cycle = find_cycle(graph)
    if cycle is not None:
        chain = " -> ".join(stages[i].display_name for i in cycle)
        raise DockerfileError(
            f"cycle between stages: {chain}",
            where=f"{name}:{stages[cycle[0]].start_line}",
            hint="a stage cannot read from itself, directly or through others",
        )
    return StageGraph(
        dockerfile=dockerfile,
        stages=tuple(stages),
        meta_args=MappingProxyType(meta),
        meta_arg_names=tuple(meta_names),
        _by_name=MappingProxyType(by_name),
    )


def _expand(word: str, env: Mapping[str, str], escape: str, name: str, ins: Instruction) -> str:
    try:
        return expand(word, env, escape=escape)
    except DockerfileError as err:
        where = f"{name}:{ins.start_line}"
        raise DockerfileError(err.message, where=where, hint=err.hint) from None


def _resolve(
    ref: str,
    via: str,
    line: int,
    *,
    current: int,
    by_name: Mapping[str, int],
    contexts: Mapping[str, str],
    allow_index: bool,
    count: int = 0,
    where: str | None = None,
) -> Source:
    lowered = ref.lower()
    if lowered in contexts:
        # A named context replaces a stage or image of the same name, as in bake.
        return Source(SourceKind.CONTEXT, contexts[lowered], via, line)
    index = by_name.get(lowered)
    if index is None and allow_index and ref.isdigit():
        index = int(ref)
        if index >= count:
            raise DockerfileError(
                f"--from={ref}: there is no stage {ref}",
                where=where,
                hint=f"stage indices run from 0 to {count - 1}",
            )
    if index is not None:
        if index == current:
            raise DockerfileError(
                f'stage "{ref}" reads from itself',
                where=where,
                hint="use an earlier stage or an image",
            )
        return Source(SourceKind.STAGE, ref, via, line, stage=index)
    if lowered == "scratch":
        return Source(SourceKind.SCRATCH, "scratch", via, line)
    return Source(SourceKind.IMAGE, ref, via, line)
