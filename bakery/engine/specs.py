"""What one daemon build is sent: its Dockerfile, context tar and parameters.

The classic builder gets one stage at a time (``FROM`` the stage image before
it) with bakery's labels in one LABEL line of its own; BuildKit gets the
user's Dockerfile, with the references to split-off stages and named contexts
replaced. A daemon's error is pointed back at the user's Dockerfile line here.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Mapping
from dataclasses import replace
from typing import TypedDict

from bakery.core.config import Target
from bakery.core.config.secrets import SecretSource, SshSource
from bakery.core.ignore import parse_dockerignore
from bakery.core.keys import WHOLE_CONTEXT, ContextReads
from bakery.core.plan import Node
from bakery.core.rewrite import RewrittenDockerfile, instruction_at, stage_alone
from bakery.core.stages import PROXY_ARGS, Source, SourceKind
from bakery.engine.backend import BuildFailed, BuildSpec
from bakery.engine.context import ContextSnapshot
from bakery.engine.labels import label_line
from bakery.engine.registry import explain_pull_failure, metadata_image, normalize
from bakery.engine.tar_stream import TarStream

DOCKERFILE_IN_TAR = ".bakery.Dockerfile"
WHOLE_READ: ContextReads = (WHOLE_CONTEXT,)


def sources_read(reads: Mapping[str, ContextReads], nodes: tuple[str, ...]) -> list[str]:
    """Every context source the ``nodes`` read (``.`` when unknown)."""
    out = [source for n in nodes for read in reads.get(n, WHOLE_READ) for source in read]
    return list(dict.fromkeys(out))


def target_spec(
    target: Target,
    *,
    context: bytes | TarStream,
    tag: str,
    dockerfile: str,
    stage: str | None,
    labels: Mapping[str, str],
    no_cache: bool,
) -> BuildSpec:
    """A BuildKit build of one of ``target``'s stages, with the target's settings."""
    return BuildSpec(
        context=context,
        tag=tag,
        dockerfile=dockerfile,
        target=stage,
        build_args=dict(target.args),
        labels=dict(labels),
        platform=target.platform,
        no_cache=no_cache,
        **_daemon_settings(target),
    )


def classic_dockerfile(
    node: Node, refs: Mapping[Source, str], labels: Mapping[str, str]
) -> tuple[RewrittenDockerfile, dict[str, str]]:
    """The node's stage alone, bakery's labels on a line of their own last; and
    the labels that must go as the build's parameter instead (a line break cannot
    be written in a Dockerfile: those cost one more step each). One LABEL line,
    not the parameter: the classic builder commits one container per label."""
    emitted = stage_alone(node.graph, node.stage, refs)
    multiline = {k: v for k, v in labels.items() if "\n" in k + v or "\r" in k + v}
    line = label_line(
        {k: v for k, v in labels.items() if k not in multiline}, node.graph.dockerfile.escape
    )
    return replace(emitted, text=f"{emitted.text}{line}\n", lines=(*emitted.lines, 0)), multiline


def classic_spec(
    node: Node,
    *,
    context: bytes | TarStream,
    tag: str,
    dockerfile: str,
    labels: Mapping[str, str],
    no_cache: bool,
) -> BuildSpec:
    """A classic build of one node, with the arguments its stage can see."""
    target = node.target
    args = {
        k: v
        for k, v in target.args.items()
        if k in node.stage.arg_names or k in node.graph.meta_arg_names or k in PROXY_ARGS
    }
    return BuildSpec(
        context=context,
        tag=tag,
        dockerfile=dockerfile,
        build_args=args,
        platform=node.platform,
        no_cache=no_cache,
        labels=dict(labels),
        **_daemon_settings(target),
    )


def dockerfile_in_context(target: Target, snapshot: ContextSnapshot) -> str:
    """Where the Dockerfile goes in the tar: its own place when it is inside the
    context (as ``docker build`` sends it), else a name of bakery's."""
    if target.dockerfile_inline is None:
        rel = os.path.relpath(target.dockerfile, snapshot.root)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return DOCKERFILE_IN_TAR


def hidden_dockerfile(snapshot: ContextSnapshot) -> tuple[str, bytes]:
    """A name for bakery's Dockerfile in the tar, and the .dockerignore to send,
    such that the classic builder removes both from the context it builds with
    (it removes the Dockerfile and .dockerignore when .dockerignore matches them),
    so that ``COPY . .`` sees exactly the user's files.

    The context is already filtered by the user's rules. When the user's own
    .dockerignore is part of what the build sees, it must go unchanged: then the
    Dockerfile takes the name of a file the user's rules exclude (so it matches
    them, and no real file has it). Only when no such name exists does the
    .dockerignore get one line more."""
    hide = f"{DOCKERFILE_IN_TAR}\n".encode()
    if ".dockerignore" not in snapshot.files:
        return DOCKERFILE_IN_TAR, b".dockerignore\n" + hide
    current = (snapshot.root / ".dockerignore").read_bytes()
    # The daemon reads the root .dockerignore, whichever ignore file chose the files.
    rules = parse_dockerignore(current.decode("utf-8", "surrogateescape"))
    taken = set(snapshot.files)
    for pattern in rules.patterns:
        name = pattern.text
        if (
            pattern.exclusion
            or pattern.kind.value != "exact"
            or not name
            or "/" in name
            or name in taken
            or any(p.startswith(name + "/") for p in taken)
            or not rules.excluded(name)
        ):
            continue
        return name, current
    return DOCKERFILE_IN_TAR, current.rstrip(b"\n") + b"\n" + hide


def small_tar(files: Mapping[str, bytes]) -> bytes:
    """A tar of a few generated files (GNU format: BuildKit misreads PAX)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def base_has_onbuild(node: Node, parent: Node | None) -> bool:
    """Whether the stage's base may carry ONBUILD triggers that read the context:
    a parent stage that declares some, or any image (an external one, or another
    target's)."""
    base = node.stage.base
    if base.kind is SourceKind.STAGE:
        return parent is not None and any(i.keyword == "onbuild" for i in parent.stage.instructions)
    return base.kind in (SourceKind.IMAGE, SourceKind.CONTEXT)


def output_dest(output: str) -> str:
    return dict(o.split("=", 1) for o in output.split(",") if "=" in o)["dest"]


def locate(
    node: Node, emitted: RewrittenDockerfile, err: BuildFailed, *, classic: bool
) -> BuildFailed:
    """The daemon's error, pointed at the user's Dockerfile line; a failed pull
    said as one message naming the image and its registry."""
    line = emitted.original_line(err.line) if err.line else None
    pulled = metadata_image(err.step)
    if line is None and pulled:
        line = next(
            (
                s.line
                for s in node.stage.sources
                if s.kind is SourceKind.IMAGE and normalize(s.ref) == normalize(pulled)
            ),
            None,
        )
    if line is None and err.step:
        line = _line_for_step(node, err.step, classic=classic)
    name = node.graph.dockerfile.name
    where = f"{name}:{line}" if line else name
    ins = instruction_at(node.stage, line) if line else None
    step = ins.original.split("\n")[0].strip() if ins else err.step
    message, hint, tail = err.message, err.hint, err.log_tail
    if ins is not None and ins.keyword == "from" and not pulled:
        pulled = node.stage.base.ref if node.stage.base.kind is SourceKind.IMAGE else None
    explained = explain_pull_failure(err.message, pulled) if pulled or classic else None
    if explained:
        # The daemon's own words stay, below bakery's.
        (message, hint), tail = explained, (*err.log_tail, err.message)
    return BuildFailed(
        message,
        step=step,
        line=line,
        exit_status=err.exit_status,
        log_tail=tail,
        where=where,
        hint=hint,
    )


def _line_for_step(node: Node, step: str, *, classic: bool) -> int | None:
    """The line of the instruction a builder's step name shows: classic's
    ``Step 3/5 : RUN make`` counts the instructions of the Dockerfile bakery sent
    (the global ARGs, then the stage); BuildKit's ``[build 2/3] RUN make`` counts
    the stage's own, FROM first. Failing that, the step's text is matched."""
    instructions = node.stage.instructions
    classic_step = re.match(r"^Step (\d+)/\d+ : ", step)
    buildkit_step = re.match(r"^\[(?:\S+ )?(\d+)/\d+\]", step)
    text = step
    if classic and classic_step:
        all_instructions = node.graph.dockerfile.instructions
        first_from = next(i for i, ins in enumerate(all_instructions) if ins.keyword == "from")
        globals_ = [i for i in all_instructions[:first_from] if i.keyword == "arg"]
        n = int(classic_step.group(1)) - len(globals_) - 1
        if 0 <= n < len(instructions):
            return instructions[n].start_line
        text = step[classic_step.end() :]
    elif buildkit_step:
        text = step[buildkit_step.end() :]
    keyword, _, rest = text.strip().partition(" ")
    rest = " ".join(rest.split())
    escape = node.graph.dockerfile.escape
    candidates = [i for i in instructions if i.keyword == keyword.lower()]
    for ins in candidates:
        body = " ".join(ins.original.replace(escape + "\n", " ").split())
        if rest and rest in body:
            return ins.start_line
    if not classic and buildkit_step:
        n = int(buildkit_step.group(1)) - 1
        if 0 <= n < len(instructions) and instructions[n].keyword == keyword.lower():
            return instructions[n].start_line
    return candidates[0].start_line if len(candidates) == 1 else None


class _Settings(TypedDict):
    network: str | None
    extra_hosts: dict[str, str]
    shm_size: int | None
    cache_from: tuple[str, ...]
    secrets: tuple[SecretSource, ...]
    ssh: tuple[SshSource, ...]


def _daemon_settings(target: Target) -> _Settings:
    """The target's settings that every build of it passes to the daemon."""
    return {
        "network": target.network,
        "extra_hosts": _hosts(target.extra_hosts),
        "shm_size": _bytes(target.shm_size),
        "cache_from": target.cache_from,
        "secrets": target.secrets,
        "ssh": target.ssh,
    }


def _hosts(entries: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in entries:
        host, _, ip = entry.partition(":")
        if not ip:
            host, _, ip = entry.partition("=")
        out[host] = ip
    return out


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _bytes(size: str | None) -> int | None:
    if size is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([bkmg]?)b?\s*", size.lower())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]
