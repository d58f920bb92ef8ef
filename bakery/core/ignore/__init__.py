"""``.dockerignore`` files, read and matched exactly as Docker does.

``ignore_file_for`` says which ignore file a build reads; ``parse_dockerignore``
reads its text into ``IgnoreRules``, which give a ``Verdict`` on each path of
the context in the order BuildKit's walker asks; ``path_match`` is the same
pattern language as COPY and ADD match their wildcard sources with.

The modules: ``rules`` reads the file and applies its patterns in order, as
patternmatcher and BuildKit's walker do; ``globs`` is the pattern language, one
pattern checked and translated to a regular expression. Other code imports from
this package only.
"""

from bakery.core.ignore.globs import path_match
from bakery.core.ignore.rules import (
    DOCKERIGNORE,
    IgnoreError,
    IgnoreRules,
    Pattern,
    Verdict,
    clean_path,
    ignore_file_for,
    parse_dockerignore,
)

__all__ = [
    "DOCKERIGNORE",
    "IgnoreError",
    "IgnoreRules",
    "Pattern",
    "Verdict",
    "clean_path",
    "ignore_file_for",
    "parse_dockerignore",
    "path_match",
]
