"""What every command shares: exit codes, the one error line, the project."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from bakery.core.errors import EXIT_CODES, BakeryError, Outcome

EXIT_OK = EXIT_CODES[Outcome.OK]
EXIT_FAILED = EXIT_CODES[Outcome.FAILED]
EXIT_USAGE = EXIT_CODES[Outcome.USAGE]
EXIT_INTERRUPTED = EXIT_CODES[Outcome.INTERRUPTED]


def report_error(error: BakeryError, err: TextIO) -> None:
    """One red line naming where and what, then the hint."""
    color = err.isatty() and "NO_COLOR" not in os.environ
    red, dim, reset = ("\033[31;1m", "\033[2m", "\033[0m") if color else ("", "", "")
    err.write(f"{red}error:{reset} {error}\n")
    if error.hint:
        err.write(f"{dim}hint:{reset} {error.hint}\n")


def load_project(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bakery.core.config import parse_assignment
    from bakery.project import load

    cli_vars = dict(parse_assignment(v) for v in args.vars)
    return load(args.files, cwd=Path.cwd(), cli_vars=cli_vars, sets=args.sets)
