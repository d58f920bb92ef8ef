"""Dockerfile word expansion: ``$VAR``, ``${VAR:-default}``, quotes, escapes, word splitting.

This is the expansion Dockerfile instructions apply to their arguments (``FROM``,
``ARG``, ``ENV``, ``COPY --from``, ...), made to agree with BuildKit's
``frontend/dockerfile/shell/lex.go`` case for case; BuildKit's ``envVarTest`` and
``wordsTest`` are the contract. bakery needs it to name stages and to know which
build arguments a stage reads exactly as the daemon will, before anything is built.
The same lexer, told to keep quotes, escapes and variables as written, splits the
lines in which the Dockerfile reader looks for heredocs, as BuildKit's parser does.

It must not run a shell, read the process environment, touch the disk or print:
variables come in as a mapping, and every problem is raised as ``ShellError``
(translated into text once, by the CLI). Only the standard library is used.

The modules: ``lexer`` reads a word, ``patterns`` gives ``${X#pat}``,
``${X%pat}`` and ``${X/pat/repl}`` their matching, ``errors`` holds ``ShellError``.
"""

from bakery.core.shell.errors import ShellError
from bakery.core.shell.lexer import (
    WHITESPACE,
    expand,
    expand_words,
    referenced_names,
    split_words,
)

__all__ = ["WHITESPACE", "ShellError", "expand", "expand_words", "referenced_names", "split_words"]
