"""Any input gives a result or bakery's own error, quickly: never another exception.

Hypothesis writes the inputs, biased towards the characters each reader cares
about. CI runs a bounded number of examples; ``BAKERY_FUZZ_EXAMPLES=100000
scripts/test -k fuzz`` runs a long campaign (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakery.core.config import SourceFile, load_project
from bakery.core.dockerfile import parse_dockerfile
from bakery.core.errors import BakeryError
from bakery.core.shell import expand, expand_words, split_words
from bakery.core.stages import Platform, read_stages

EXAMPLES = int(os.environ.get("BAKERY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),  # the time bound: a slow input fails the property
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="CI" in os.environ,  # the same inputs on every CI run
)

# Pieces that make the readers take their less common paths.
DOCKERFILE_PIECES = [
    "FROM ",
    "scratch",
    "busybox",
    " AS ",
    "base",
    "\n",
    " ",
    "\\\n",
    "`",
    "#",
    "# escape=`\n",
    "# syntax=x\n",
    "ARG ",
    "A=1",
    "${A}",
    "$A",
    "${A:-x}",
    "${A#*}",
    "${A/x/y}",
    "RUN ",
    "<<EOF\n",
    "EOF\n",
    "COPY ",
    "--from=",
    "--chown=1:1 ",
    ". .",
    "ADD ",
    "ENV ",
    "LABEL ",
    '"',
    "'",
    "[",
    "]",
    ",",
    '["a", "b"]',
    "--mount=type=cache,target=/c ",
    "--mount=type=bind,from=base,source=/,target=/b ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "CMD ",
    "SHELL ",
    "WORKDIR ",
    "USER ",
    "EXPOSE ",
    "VOLUME ",
    "--platform=$BUILDPLATFORM ",
    "\ufeff",
    "\t",
    "\r\n",
    "=",
    "0",
]
SHELL_PIECES = [
    "$",
    "{",
    "}",
    "A",
    "B",
    ":-",
    ":+",
    "-",
    "+",
    "?",
    ":?",
    "#",
    "##",
    "%",
    "%%",
    "/",
    "//",
    "*",
    "'",
    '"',
    "\\",
    " ",
    "\t",
    "x",
    "$A",
    "${A}",
    "${",
]
TOML_PIECES = [
    "[target.a]\n",
    "[target.b]\n",
    "[group.default]\n",
    "[variables]\n",
    "targets = ",
    "inherits = ",
    "tags = ",
    "args = ",
    "contexts = ",
    "depends-on = ",
    "target = ",
    "platform = ",
    "output = ",
    '"a"',
    '"b"',
    '"${V}"',
    '"$${"',
    "V = ",
    '["a", "b"]',
    "[]",
    "{ A = '1' }",
    '"target:a"',
    '"type=local,dest=out"',
    "\n",
    " ",
    "=",
    "'''",
    '"',
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "1",
    "true",
]


def pieces(parts: list[str]) -> st.SearchStrategy[str]:
    """Text made of the readers' own pieces, with arbitrary characters among them."""
    piece = st.one_of(st.sampled_from(parts), st.text(max_size=3))
    return st.lists(piece, max_size=40).map("".join)


@FUZZ
@given(pieces(DOCKERFILE_PIECES))
def test_fuzz_dockerfile_reader(text: str) -> None:
    with contextlib.suppress(BakeryError):
        dockerfile = parse_dockerfile(text)
        read_stages(dockerfile, build_args={"A": "1"}, platform=Platform(build="linux/amd64"))


@FUZZ
@given(pieces(SHELL_PIECES), st.sampled_from(["\\", "`"]))
def test_fuzz_shell_lexer(word: str, escape: str) -> None:
    env = {"A": "a b", "B": ""}
    for run in (expand, expand_words):
        with contextlib.suppress(BakeryError):
            run(word, env, escape=escape)
    with contextlib.suppress(BakeryError):
        split_words(word, raw_quotes=True, raw_escapes=True, escape=escape)


@FUZZ
@given(pieces(TOML_PIECES))
def test_fuzz_bake_file_loader(text: str) -> None:
    source = SourceFile(path="bake.toml", text=text, base_dir="/p")
    with contextlib.suppress(BakeryError):
        project = load_project([source], env={}, cli_vars={}, builtins={"V": "v"})
        project.select([])
