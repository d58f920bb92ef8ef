"""The user's Dockerfile rewritten for one build, with a map back to its lines.

On the classic builder each plan node is built as an image of its own: its
stage's text, exactly as written, with the global ARGs above it, and with
every reference to another stage (``FROM``, ``COPY/ADD --from``,
``RUN --mount=...,from=``) replaced by the image that the node for that stage
produced (``stage_alone``). On BuildKit the whole file goes, with only the
references to split-off stages and named contexts replaced (``with_refs``). A
line map ties each line sent to the line of the user's Dockerfile, so errors
point at what the user wrote. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bakery.core.dockerfile import Instruction, parse_mount
from bakery.core.stages import Source, SourceKind, Stage, StageGraph


@dataclass(frozen=True)
class RewrittenDockerfile:
    text: str
    lines: tuple[int, ...]  # the original line of each emitted line; 0 where there is none
    uses_context: bool  # does any instruction read the build context?

    def original_line(self, emitted: int) -> int | None:
        """The user's line for 1-based emitted line ``emitted``."""
        if 1 <= emitted <= len(self.lines) and self.lines[emitted - 1]:
            return self.lines[emitted - 1]
        return None


def stage_alone(
    graph: StageGraph,
    stage: Stage,
    refs: Mapping[Source, str],
) -> RewrittenDockerfile:
    """The Dockerfile for ``stage`` alone. ``refs`` maps each of ``stage.sources``
    that is a stage or a named context to the image reference to use instead."""
    out: list[str] = []
    lines: list[int] = []

    def add(text: str, first_line: int) -> None:
        for offset, line in enumerate(text.split("\n")):
            out.append(line)
            lines.append(first_line + offset if first_line else 0)

    escape = graph.dockerfile.escape
    if escape != "\\":
        add(f"# escape={escape}", 0)
    # The global ARGs: an ARG inside the stage without a value takes their default.
    for ins in graph.dockerfile.instructions:
        if ins.keyword == "from":
            break
        if ins.keyword == "arg":
            add(ins.original.rstrip("\n"), ins.start_line)

    by_line = {(s.via, s.line): s for s in stage.sources}
    base = stage.base
    from_ref = refs.get(base, base.ref)
    # The expanded platform: the global ARGs it may name are not in scope here.
    platform = stage.platform
    if base.kind is SourceKind.IMAGE and platform:
        add(f"FROM --platform={platform} {from_ref}", stage.start_line)
    else:
        add(f"FROM {from_ref}", stage.start_line)

    uses_context = False
    for ins in stage.instructions[1:]:
        text = ins.original.rstrip("\n")
        if ins.keyword in ("copy", "add"):
            src = by_line.get(("copy", ins.start_line))
            if src is not None and src in refs:
                text = _replace_flag(text, "from", ins.flag("from") or "", refs[src])
            elif ins.flag("from") is None:
                uses_context = True
        elif ins.keyword == "run":
            src_iter = [s for s in stage.sources if s.via == "mount" and s.line == ins.start_line]
            for raw in ins.flag_values("mount"):
                mount = parse_mount(raw)
                if mount.from_:
                    src = src_iter.pop(0)
                    if src in refs:
                        text = _replace_flag(
                            text, "mount", raw, _replace_csv(raw, "from", refs[src])
                        )
                elif mount.type == "bind":
                    uses_context = True
        add(text, ins.start_line)
    return RewrittenDockerfile(
        text="\n".join(out) + "\n", lines=tuple(lines), uses_context=uses_context
    )


def _replace_flag(text: str, name: str, old: str, new: str) -> str:
    pattern = re.compile(rf"--{re.escape(name)}=(['\"]?){re.escape(old)}\1(?=\s|$)")
    return pattern.sub(lambda _: f"--{name}={new}", text, count=1)


def _replace_csv(value: str, key: str, new: str) -> str:
    fields = value.split(",")
    return ",".join(f"{key}={new}" if f.split("=", 1)[0] == key else f for f in fields)


def instruction_at(stage: Stage, line: int) -> Instruction | None:
    """The instruction of ``stage`` that covers original line ``line``."""
    for ins in stage.instructions:
        if ins.start_line <= line <= ins.end_line:
            return ins
    return None


def with_refs(graph: StageGraph, refs: Mapping[Source, str]) -> RewrittenDockerfile:
    """The whole Dockerfile as written, with the given sources (named contexts)
    replaced by image references, line for line, so line numbers stay true."""
    lines = list(graph.dockerfile.lines)
    for stage in graph.stages:
        for src in stage.sources:
            if src not in refs:
                continue
            ins = next(i for i in stage.instructions if i.start_line == src.line)
            first = ins.start_line - 1
            text = "\n".join(lines[first : ins.end_line])
            if src.via == "from":
                # FROM [--platform=x] ref [AS name]: swap the image word only.
                old = ins.args[0]
                text = re.sub(rf"(?<=\s){re.escape(old)}(?=\s|$)", refs[src], text, count=1)
            elif src.via == "copy":
                text = _replace_flag(text, "from", ins.flag("from") or "", refs[src])
            else:
                for raw in ins.flag_values("mount"):
                    mount = parse_mount(raw)
                    if mount.from_ and mount.from_.lower() == src.ref.lower():
                        text = _replace_flag(
                            text, "mount", raw, _replace_csv(raw, "from", refs[src])
                        )
            lines[first : ins.end_line] = text.split("\n")
    return RewrittenDockerfile(
        text="\n".join(lines) + "\n", lines=tuple(range(1, len(lines) + 1)), uses_context=True
    )
