"""bakery's command line: reads arguments, wires the layers, maps errors to exit codes.

Every ``BakeryError`` from any layer is translated here, once, into one red
error line, an optional hint, and the exit code that ``EXIT_CODES`` gives its
outcome (0 ok, 1 a build or push failed, 2 usage or configuration, 130
interrupted). Heavy modules (docker, trio, rich) are imported inside the
commands that need them, so that ``--help``, ``list``, ``print`` and ``plan``
start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from bakery.cli.build import cmd_build, cmd_push
from bakery.cli.commands import cmd_init, cmd_list, cmd_plan, cmd_print, cmd_prune, cmd_var
from bakery.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, report_error
from bakery.cli.parser import build_parser
from bakery.core.errors import EXIT_CODES, BakeryError, Outcome

__all__ = ["build_parser", "main", "report_error"]


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run bakery; return the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help(out)
            return EXIT_USAGE
        handler = _COMMANDS[args.command]
        return handler(args, out)
    except BakeryError as error:
        report_error(error, err)
        return error.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`bakery print | head`): nothing more to tell it.
        _silence(out)
        return EXIT_CODES[Outcome.OUTPUT_CLOSED]
    except BaseExceptionGroup as group:
        # trio gathers what its tasks raised; a user's error inside is still one line.
        found = _first_leaf(group)
        if isinstance(found, KeyboardInterrupt):
            err.write("interrupted\n")
            return EXIT_INTERRUPTED
        if isinstance(found, BakeryError):
            report_error(found, err)
            return found.exit_code
        raise


def _silence(out: TextIO) -> None:
    """Point a closed standard output at /dev/null, so that Python's last flush
    at exit does not complain about it."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):
        return  # not a file (a test's buffer): nothing will flush it
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first user error or interrupt in a (nested) exception group."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found = _first_leaf(exc)
            if found is not None:
                return found
        elif isinstance(exc, BakeryError | KeyboardInterrupt):
            return exc
    return None


_COMMANDS = {
    "build": cmd_build,
    "plan": cmd_plan,
    "print": cmd_print,
    "list": cmd_list,
    "prune": cmd_prune,
    "push": cmd_push,
    "init": cmd_init,
    "var": cmd_var,
}
