"""The command line's grammar: every command, flag and its help."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from bakery import __version__
from bakery.core.errors import EXIT_CODES, ConfigError, Outcome, did_you_mean

# The entitlements --allow grants, by bake's names: the one a target attribute asks for.
ENTITLEMENTS = ("network.host",)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors carry a hint and exit 2 through the one error path."""

    def error(self, message: str) -> NoReturn:
        hint = f"see `{self.prog} --help`"
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown and unknown.group(1).startswith("-"):
            flags = [f for a in self._actions for f in a.option_strings if f.startswith("--")]
            for sub in self._subparsers._group_actions if self._subparsers else ():
                for choice in getattr(sub, "choices", {}).values():
                    flags += [f for a in choice._actions for f in a.option_strings]
            guess = did_you_mean(unknown.group(1), sorted(set(flags)))
            if guess:
                message += guess
        raise ConfigError(message, hint=hint)


def _file_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "-f", "--file", dest="files", action="append", default=[], metavar="FILE",
        help=help_text,
    )  # fmt: skip


def _names(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help=help_text)


def _common(parser: argparse.ArgumentParser) -> None:
    _file_option(
        parser,
        "bake file (repeatable; later files override earlier ones). "
        "Default: bake.toml, then bake.override.toml when present",
    )
    parser.add_argument(
        "--var",
        dest="vars",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable; wins over the environment and the file",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATTERN.KEY=VALUE",
        help="override an attribute of every target matching the glob PATTERN; "
        "KEY+=VALUE appends to a list or map",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bakery",
        description="Declarative build orchestrator for multi-stage container images. "
        "Reads bake.toml, plans the stages of every requested target as one "
        "graph, builds each shared stage once and the rest concurrently.",
        epilog="Exit codes: "
        + "; ".join(f"{EXIT_CODES[o]} {o.value}" for o in Outcome)
        + ". Run `bakery COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"bakery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "build",
        help="build targets and groups; report at the end",
        description="Build the named targets and groups as one plan: every "
        "shared stage once, independent stages concurrently, tags "
        "moved only for targets that succeeded.",
    )
    _names(p, "targets or groups (default: the group `default` if defined, else `all`)")
    p.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stage builds at once (default: the daemon's CPU count)",
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild every stage from scratch")
    p.add_argument(
        "--pull", action="store_true", help="pull every external base image before building"
    )
    p.add_argument(
        "--push",
        action="store_true",
        help="after every requested target has built, push all their tags at "
        "once; a failed build pushes nothing",
    )
    p.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="show what would be built (as `bakery plan`), build nothing (make's -n)",
    )
    p.add_argument(
        "-k",
        "--keep-going",
        action="store_true",
        help="after a failure, let independent targets finish (make's -k)",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="ENTITLEMENT",
        choices=ENTITLEMENTS,
        help="grant an entitlement the bake file asks for, as docker buildx bake does: "
        'network.host (a target with network = "host"); repeatable',
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        dest="hosts",
        metavar="URL",
        help="a Docker daemon to build on (unix://, tcp://, ssh://); repeatable: the targets "
        "are spread over them; over [builders.NAME] (docs/distributed.md)",
    )
    p.add_argument(
        "--cache-repo",
        metavar="REGISTRY/NAME",
        help="the registry cache: pull stages built before (anywhere) by their stage key, "
        "push what is built; over [cache] repo (docs/distributed.md)",
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        dest="secrets",
        metavar="id=ID,src=FILE|env=VAR",
        help="a secret every target's build may mount (RUN --mount=type=secret,id=ID), "
        "as docker build takes it; over a target's own of the same id; repeatable. "
        "BuildKit only (docs/secrets.md)",
    )
    p.add_argument(
        "--ssh",
        action="append",
        default=[],
        metavar="default|ID=PATH[,PATH]",
        help="an SSH agent every target's build may use (RUN --mount=type=ssh): default is "
        "$SSH_AUTH_SOCK, PATH an agent socket or key files; repeatable. BuildKit only",
    )
    p.add_argument(
        "--progress",
        choices=["auto", "tty", "plain", "quiet"],
        default="auto",
        help="tty: a live view, one line per running stage; plain: log lines "
        "prefixed [target/stage]; quiet: only the report and errors; auto "
        "(default): tty when standard error is a terminal, else plain",
    )
    p.add_argument(
        "--report",
        choices=["table", "json", "markdown", "none"],
        default="table",
        help="the report on standard output after the build: a table (default), "
        "JSON (docs/report.md), Markdown for a CI job summary, or none",
    )
    p.add_argument(
        "--report-file",
        metavar="PATH",
        default=None,
        help="also write the JSON report to PATH (atomically), whatever --report is",
    )
    p.add_argument(
        "--builder",
        choices=["auto", "buildkit", "classic"],
        default="auto",
        help="BuildKit, the classic builder, or auto: BuildKit when the daemon offers it (default)",
    )
    _common(p)

    p = sub.add_parser(
        "plan",
        help="dry run: the stage graph, shared stages and build order",
        description="Show the plan for the named targets and groups without "
        "building: every stage build (node) once, which targets "
        "share it, the order in waves, and the external images "
        "needed.",
    )
    _names(p, "targets or groups (default: the group `default` if defined, else `all`)")
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="text (default) or json"
    )
    _common(p)

    p = sub.add_parser(
        "print",
        help="the resolved configuration as JSON",
        description="Print the resolved configuration of the named targets "
        "and groups as JSON: variables expanded, inheritance and "
        "--set applied.",
    )
    _names(p, "targets or groups (default: `default` if defined, else `all`)")
    _common(p)

    p = sub.add_parser(
        "push",
        help="push every tag of already-built targets, concurrently",
        description="Push every tag of the named targets and groups, all at "
        "once, and print the digest each got. The targets must be "
        "built (their tags on the daemon); a target without tags is "
        "skipped with a warning.",
    )
    _names(p, "targets or groups (default: `default` if defined, else `all`)")
    p.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=4,
        metavar="N",
        help="pushes at once (default: 4)",
    )
    _common(p)

    p = sub.add_parser(
        "prune",
        help="remove bakery's intermediate stage images",
        description="Remove the intermediate stage images bakery made (every "
        "tag under bakery-stage, and untagged images labelled "
        "dev.bakery.role=stage), and nothing else. Targets' images "
        "and their tags are kept.",
    )

    p = sub.add_parser(
        "init",
        help="write a bake.toml with one target per final stage",
        description="Write bake.toml (or the -f file) with one target per final "
        "stage of DOCKERFILE (a stage no other stage reads from), "
        "tagged NAME:latest, and a default group. When the file "
        "exists, add only the targets it lacks, keeping its "
        "comments and layout.",
    )
    p.add_argument(
        "dockerfile",
        nargs="?",
        default="Dockerfile",
        metavar="DOCKERFILE",
        help="the Dockerfile to read (default: Dockerfile)",
    )
    _file_option(p, "the bake file to write (default: bake.toml)")

    p = sub.add_parser(
        "var",
        help="change variables in the bake file",
        description="Change the bake file's variables in place, keeping its comments and layout.",
    )
    var = p.add_subparsers(
        dest="var_command",
        metavar="ACTION",
        parser_class=_Parser,
        help="set: change one variable",
        required=True,
    )
    q = var.add_parser(
        "set",
        help="set NAME to VALUE in [variables]",
        description="Set NAME to VALUE in the [variables] table of the bake "
        "file (added when missing), keeping comments and layout.",
    )
    q.add_argument("name", metavar="NAME", help="the variable")
    q.add_argument("value", metavar="VALUE", help="its new value")
    _file_option(q, "the bake file to change (default: bake.toml)")

    p = sub.add_parser(
        "list",
        help="targets and groups with their descriptions",
        description="List every target and group of the bake files.",
    )
    _common(p)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
