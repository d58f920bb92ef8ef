"""What every command shares: exit codes, the one error line, the project."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bakery.core.errors import EXIT_CODES, BakeryError, ConfigError, Outcome

if TYPE_CHECKING:
    from bakery.core.config import Project

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
    project = load(args.files, cwd=Path.cwd(), cli_vars=cli_vars, sets=args.sets)
    return _with_session_sources(project, getattr(args, "secrets", ()), getattr(args, "ssh", ()))


def _with_session_sources(project: Project, secrets: Sequence[str], ssh: Sequence[str]) -> Project:
    """Every target with the ``--secret`` and ``--ssh`` of the command line, which
    win over a target's own of the same id. Paths are relative to the working
    directory."""
    import dataclasses

    from bakery.core.config.secrets import parse_secret, parse_ssh

    if not secrets and not ssh:
        return project
    cwd = str(Path.cwd())
    given = [parse_secret(s, cwd, where="--secret", key="--secret") for s in secrets]
    agents = [parse_ssh(s, cwd, where="--ssh", key="--ssh") for s in ssh]
    for flag, ids in (("--secret", [g.id for g in given]), ("--ssh", [a.id for a in agents])):
        repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
        if repeated is not None:
            raise ConfigError(
                f'the id "{repeated}" is given twice', where=flag, hint="each id names one source"
            )
    targets = {}
    for name, target in project.targets.items():
        own = [s for s in target.secrets if s.id not in {g.id for g in given}]
        own_ssh = [s for s in target.ssh if s.id not in {a.id for a in agents}]
        targets[name] = dataclasses.replace(target, secrets=(*own, *given), ssh=(*own_ssh, *agents))
    return dataclasses.replace(project, targets=targets)
