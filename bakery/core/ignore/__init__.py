"""``.dockerignore`` files, read and matched exactly as Docker does.

Other code imports from this package only.
"""

from bakery.core.ignore.rules import (
    DOCKERIGNORE,
    IgnoreError,
    IgnoreRules,
    Pattern,
    Verdict,
    clean_path,
    ignore_file_for,
    parse_dockerignore,
    path_match,
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
