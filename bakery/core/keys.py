"""Stage keys: a digest of everything that decides what a plan node builds.

A node's key covers its instructions as written (with the global ARGs above
its stage), its effective build arguments, its platform, the backend, the
node's identity in the plan (Dockerfile, context, target settings), what each
of its sources is (a parent node's key, an external image's ID) and the
digests of the context files it reads. Two runs that compute the same key
would build the same image, so the engine may reuse an image labelled with it
instead of building. Pure: the engine looks up image IDs and context digests
and passes them in; where an input is unknown there is no key, and the node
is built as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from bakery.core.dockerfile import Instruction, parse_mount
from bakery.core.plan import Node
from bakery.core.stages import Source, SourceKind, Stage

KEY_VERSION = 1
WHOLE_CONTEXT: tuple[str, ...] = (".",)

ContextReads = tuple[tuple[str, ...], ...]


def context_reads(stage: Stage, *, base_has_onbuild: bool = False) -> ContextReads | None:
    """The context sources each instruction of ``stage`` reads, in order: COPY/ADD
    without ``--from``, and ``RUN --mount=type=bind`` without ``from``. A source
    bakery cannot resolve before the build (a variable) reads the whole context;
    an ONBUILD base may read anything, so it reads the whole context too. ``None``
    when the stage reads something outside the context that can change unseen
    (``ADD`` of a URL or git repository): such a stage has no key."""
    reads: list[tuple[str, ...]] = []
    if base_has_onbuild:
        reads.append(WHOLE_CONTEXT)
    for ins in stage.instructions[1:]:
        if ins.keyword in ("copy", "add") and ins.flag("from") is None:
            sources = _copy_sources(ins)
            if sources is None:
                return None
            if sources:
                reads.append(sources)
        elif ins.keyword == "run":
            for raw in ins.flag_values("mount"):
                mount = parse_mount(raw)
                if mount.type == "bind" and not mount.from_:
                    reads.append(_clean((mount.source or ".",)))
    return tuple(reads)


def _copy_sources(ins: Instruction) -> tuple[str, ...] | None:
    words = list(ins.args[:-1])  # the last word is the destination
    out: list[str] = []
    for word in words:
        if word.startswith("<<"):
            continue  # a heredoc: its body is in the instruction's text
        text = word if ins.json else _unquote(word)
        if ins.keyword == "add" and ("://" in text or text.startswith("git@")):
            return None
        out.append(text)
    return _clean(tuple(out)) if out else ()


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    return word


def _clean(sources: tuple[str, ...]) -> tuple[str, ...]:
    # A variable or a quote left in a path cannot be resolved here: take everything.
    if any(c in s for s in sources for c in "$'\""):
        return WHOLE_CONTEXT
    return sources


def node_key(
    node: Node,
    *,
    backend: str,
    sources: Mapping[Source, str | None],
    context: Mapping[tuple[str, ...], str],
    base_has_onbuild: bool = False,
) -> str | None:
    """The key of ``node``, or ``None`` when an input is unknown.

    ``sources`` gives, for each of ``node.stage.sources``, what it is now: a
    parent node's key, an external image's ID, or ``None`` when unknown (a
    scratch base needs no entry). ``context`` maps each entry of
    ``context_reads(node.stage, ...)`` to ``ContextSnapshot.digest_of`` of it."""
    reads = context_reads(node.stage, base_has_onbuild=base_has_onbuild)
    if reads is None:
        return None
    resolved: list[list[str]] = []
    for src in node.stage.sources:
        if src.kind is SourceKind.SCRATCH:
            resolved.append([src.kind.value, "scratch"])
            continue
        value = sources.get(src)
        if value is None:
            return None
        resolved.append([src.kind.value, value])
    digests: list[str] = []
    for read in reads:
        digest = context.get(read)
        if digest is None:
            return None
        digests.append(digest)
    dockerfile = node.graph.dockerfile
    global_args = []
    for ins in dockerfile.instructions:
        if ins.keyword == "from":
            break
        if ins.keyword == "arg":
            global_args.append(ins.original)
    identity = {
        "version": KEY_VERSION,
        "node": node.id,
        "backend": backend,
        "escape": dockerfile.escape,
        "global_args": global_args,
        "instructions": [ins.original for ins in node.stage.instructions],
        "args": [list(pair) for pair in node.args],
        "platform": node.platform,
        "sources": resolved,
        "context": digests,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
