"""The Dockerfile reader.

Turns Dockerfile text into instructions, as BuildKit's parser does: parser
directives (``# syntax=``, ``# escape=``), line continuations with comments
and blank lines inside them, JSON and shell forms, heredocs, ONBUILD, and
flags. Every instruction keeps its source line span and its original text, so
a stage can be re-emitted exactly as written. Pure: text in, data out.

The reference is ``frontend/dockerfile/parser`` in moby/buildkit; its own test
data (``parser/testfiles``) is the contract, checked by the conformance tests.
Beyond the reference parser, this reader also rejects what BuildKit's
instruction layer would reject anyway and what nothing downstream could use:
unknown instructions and ONBUILD triggers that cannot be triggers. Variables
are never expanded here; that is ``bakery.core.shell``'s job.

It must not read files, print or import anything but the standard library,
``bakery.core.errors`` and ``bakery.core.shell``, whose lexer finds the heredocs.
Problems are raised as ``Fail`` where they are found and turned into a
``DockerfileError`` naming the file and line by ``parse_dockerfile`` (or, for a
mount, by ``parse_mount``), nowhere else.

The modules: ``model`` (what a parsed Dockerfile is), ``parser`` (the file:
lines, directives, continuations), ``instructions`` (one instruction's flags
and arguments), ``heredocs``, ``mounts`` (``RUN --mount``), ``dump`` (the
reference parser's text form), ``errors`` (``Fail``).
"""

from bakery.core.dockerfile.dump import dump
from bakery.core.dockerfile.instructions import KEYWORDS
from bakery.core.dockerfile.model import Dockerfile, Heredoc, Instruction, Mount
from bakery.core.dockerfile.mounts import MOUNT_TYPES, parse_mount
from bakery.core.dockerfile.parser import parse_dockerfile

__all__ = [
    "KEYWORDS",
    "MOUNT_TYPES",
    "Dockerfile",
    "Heredoc",
    "Instruction",
    "Mount",
    "dump",
    "parse_dockerfile",
    "parse_mount",
]
