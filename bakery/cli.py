"""bakery's command line: reads arguments, wires the layers, maps errors to exit codes.

Every ``BakeryError`` from any layer is translated here, once, into one red
error line, an optional hint, and the exit code that ``EXIT_CODES`` gives its
outcome (0 ok, 1 a build or push failed, 2 usage or configuration, 130
interrupted). Heavy modules (docker, trio, rich) are imported inside the
commands that need them, so that ``--help``, ``list``, ``print`` and ``plan``
start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bakery import __version__
from bakery.core.errors import EXIT_CODES, BakeryError, ConfigError, Outcome

EXIT_OK = EXIT_CODES[Outcome.OK]
EXIT_FAILED = EXIT_CODES[Outcome.FAILED]
EXIT_USAGE = EXIT_CODES[Outcome.USAGE]
EXIT_INTERRUPTED = EXIT_CODES[Outcome.INTERRUPTED]


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors carry a hint and exit 2 through the one error path."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message, hint=f"see `{self.prog} --help`")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--file", dest="files", action="append", default=[],
                        metavar="FILE",
                        help="bake file (repeatable; later files override earlier ones). "
                             "Default: bake.toml, then bake.override.toml when present")
    parser.add_argument("--var", dest="vars", action="append", default=[], metavar="NAME=VALUE",
                        help="set a variable; wins over the environment and the file")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="PATTERN.KEY=VALUE",
                        help="override an attribute of every target matching the glob PATTERN; "
                             "KEY+=VALUE appends to a list or map")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bakery",
        description="Declarative build orchestrator for multi-stage container images. "
                    "Reads bake.toml, plans the stages of every requested target as one "
                    "graph, builds each shared stage once and the rest concurrently.",
        epilog="Exit codes: " + "; ".join(f"{EXIT_CODES[o]} {o.value}" for o in Outcome)
               + ". Run `bakery COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"bakery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("build", help="build targets and groups; report at the end",
                       description="Build the named targets and groups as one plan: every "
                                   "shared stage once, independent stages concurrently, tags "
                                   "moved only for targets that succeeded.")
    p.add_argument("names", nargs="*", metavar="NAME", help="targets or groups "
                   "(default: the group `default` if defined, else `all`)")
    p.add_argument("-j", "--jobs", type=_positive_int, default=None, metavar="N",
                   help="stage builds at once (default: the daemon's CPU count)")
    p.add_argument("--no-cache", action="store_true", help="rebuild every stage from scratch")
    p.add_argument("--pull", action="store_true",
                   help="pull every external base image before building")
    p.add_argument("--push", action="store_true",
                   help="after every requested target has built, push all their tags at "
                        "once; a failed build pushes nothing")
    p.add_argument("--keep-going", action="store_true",
                   help="after a failure, let independent targets finish")
    p.add_argument("--progress", choices=["auto", "tty", "plain", "quiet"], default="auto",
                   help="tty: a live view, one line per running stage; plain: log lines "
                        "prefixed [target/stage]; quiet: only the report and errors; auto "
                        "(default): tty when standard error is a terminal, else plain")
    p.add_argument("--report", choices=["table", "json", "markdown", "none"], default="table",
                   help="the report on standard output after the build: a table (default), "
                        "JSON (docs/report.md), Markdown for a CI job summary, or none")
    p.add_argument("--report-file", metavar="PATH", default=None,
                   help="also write the JSON report to PATH (atomically), whatever --report is")
    p.add_argument("--builder", choices=["auto", "buildkit", "classic"], default="auto",
                   help="BuildKit, the classic builder, or auto: BuildKit when the daemon "
                        "offers it (default)")
    _common(p)

    p = sub.add_parser("plan", help="dry run: the stage graph, shared stages and build order",
                       description="Show the plan for the named targets and groups without "
                                   "building: every stage build (node) once, which targets "
                                   "share it, the order in waves, and the external images "
                                   "needed.")
    p.add_argument("names", nargs="*", metavar="NAME", help="targets or groups "
                   "(default: the group `default` if defined, else `all`)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="text (default) or json")
    _common(p)

    p = sub.add_parser("print", help="the resolved configuration as JSON",
                       description="Print the resolved configuration of the named targets "
                                   "and groups as JSON: variables expanded, inheritance and "
                                   "--set applied.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="targets or groups (default: `default` if defined, else `all`)")
    _common(p)

    p = sub.add_parser("push", help="push every tag of already-built targets, concurrently",
                       description="Push every tag of the named targets and groups, all at "
                                   "once, and print the digest each got. The targets must be "
                                   "built (their tags on the daemon); a target without tags is "
                                   "skipped with a warning.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="targets or groups (default: `default` if defined, else `all`)")
    p.add_argument("-j", "--jobs", type=_positive_int, default=4, metavar="N",
                   help="pushes at once (default: 4)")
    _common(p)

    p = sub.add_parser("prune", help="remove bakery's intermediate stage images",
                       description="Remove the intermediate stage images bakery made (every "
                                   "tag under bakery-stage, and untagged images labelled "
                                   "dev.bakery.role=stage), and nothing else. Targets' images "
                                   "and their tags are kept.")

    p = sub.add_parser("init", help="write a bake.toml with one target per final stage",
                       description="Write bake.toml (or the -f file) with one target per final "
                                   "stage of DOCKERFILE (a stage no other stage reads from), "
                                   "tagged NAME:latest, and a default group. When the file "
                                   "exists, add only the targets it lacks, keeping its "
                                   "comments and layout.")
    p.add_argument("dockerfile", nargs="?", default="Dockerfile", metavar="DOCKERFILE",
                   help="the Dockerfile to read (default: Dockerfile)")
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                   help="the bake file to write (default: bake.toml)")

    p = sub.add_parser("var", help="change variables in the bake file",
                       description="Change the bake file's variables in place, keeping its "
                                   "comments and layout.")
    var = p.add_subparsers(dest="var_command", metavar="ACTION", parser_class=_Parser,
                           help="set: change one variable",
                           required=True)
    q = var.add_parser("set", help="set NAME to VALUE in [variables]",
                       description="Set NAME to VALUE in the [variables] table of the bake "
                                   "file (added when missing), keeping comments and layout.")
    q.add_argument("name", metavar="NAME", help="the variable")
    q.add_argument("value", metavar="VALUE", help="its new value")
    q.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                   help="the bake file to change (default: bake.toml)")

    p = sub.add_parser("list", help="targets and groups with their descriptions",
                       description="List every target and group of the bake files.")
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


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
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


def report_error(error: BakeryError, err: TextIO) -> None:
    """One red line naming where and what, then the hint."""
    color = err.isatty() and "NO_COLOR" not in os.environ
    red, dim, reset = ("\033[31;1m", "\033[2m", "\033[0m") if color else ("", "", "")
    err.write(f"{red}error:{reset} {error}\n")
    if error.hint:
        err.write(f"{dim}hint:{reset} {error.hint}\n")


def _project(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bakery.core.config import parse_assignment
    from bakery.loading import load

    cli_vars = dict(parse_assignment(v) for v in args.vars)
    return load(args.files, cwd=Path.cwd(), cli_vars=cli_vars, sets=args.sets)


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    project = _project(args)
    width = max((len(n) for n in [*project.targets, *project.groups]), default=0)
    out.write("targets:\n")
    for name, target in project.targets.items():
        out.write(f"  {name.ljust(width)}  {target.description}".rstrip() + "\n")
    if project.groups:
        out.write("groups:\n")
        for name, group in project.groups.items():
            text = group.description or ", ".join(group.targets)
            out.write(f"  {name.ljust(width)}  {text}".rstrip() + "\n")
    return EXIT_OK


def _cmd_print(args: argparse.Namespace, out: TextIO) -> int:
    project = _project(args)
    names = project.select(args.names)
    doc = {
        "group": {g.name: {"targets": list(g.targets)} for g in project.groups.values()},
        "target": {n: project.targets[n].to_json() for n in names},
    }
    json.dump(doc, out, indent=2)
    out.write("\n")
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.plan import make_plan
    from bakery.loading import DockerfileCache
    from bakery.report.plan import plan_json, render_plan

    project = _project(args)
    names = project.select(args.names)
    cache = DockerfileCache()
    plan = make_plan(project.targets, names, cache.graph)
    if args.format == "json":
        json.dump(plan_json(plan), out, indent=2)
        out.write("\n")
    else:
        out.write(render_plan(plan))
    return EXIT_OK


def _cmd_build(args: argparse.Namespace, out: TextIO) -> int:
    import trio
    from rich.console import Console

    from bakery.core.plan import make_plan
    from bakery.engine.connection import connect
    from bakery.engine.daemon import pick_backend
    from bakery.engine.images import Images
    from bakery.engine.on_daemon import daemon_runner
    from bakery.engine.runner import RunOptions
    from bakery.loading import DockerfileCache
    from bakery.report.formats import render_markdown, report_json, write_json_atomic
    from bakery.report.progress import make_progress
    from bakery.report.sizes import image_sizes, images_to_inspect
    from bakery.report.summary import render_failures, render_report

    report_file = Path(args.report_file) if args.report_file else None
    if report_file is not None and not report_file.parent.is_dir():
        # Found before building, so that a release script does not lose its report.
        raise ConfigError(f"no folder {str(report_file.parent)!r} for the report file",
                          where="--report-file", hint="create the folder first")
    project = _project(args)
    names = project.select(args.names)
    plan = make_plan(project.targets, names, DockerfileCache().graph)
    client = connect()
    backend = pick_backend(client, args.builder)
    if backend.name == "buildkit":
        for name, planned in plan.targets.items():
            if planned.target.shm_size:
                sys.stderr.write(f"warning: target.{name}: shm-size has no effect on "
                                 "BuildKit (the daemon ignores it); --builder classic "
                                 "applies it\n")
    jobs = args.jobs or int(client.info().get("NCPU") or 2)
    progress = make_progress(args.progress, plan, sys.stderr)
    with progress:
        runner = daemon_runner(plan, client, backend,
                        RunOptions(jobs=jobs, keep_going=args.keep_going,
                                   no_cache=args.no_cache, pull=args.pull,
                                   state_dir=(Path.cwd() / project.files[0]).parent / ".bakery"),
                        progress)
        result = trio.run(lambda: runner.run(handle_sigint=True))
    code = EXIT_INTERRUPTED if result.interrupted else EXIT_OK if result.ok else EXIT_FAILED
    facts = image_sizes(Images(client).sizes(images_to_inspect(plan, result)))
    if args.push:
        code, facts = _push_after_build(client, plan, result, facts, code, jobs=jobs)
    doc = report_json(plan, result, facts)
    if report_file is not None:
        try:
            write_json_atomic(report_file, doc)
        except OSError as error:
            report_error(BakeryError(f"cannot write the report: {error.strerror or error}",
                                     where=str(report_file)), sys.stderr)
            code = code or EXIT_FAILED
    # Not a terminal (a CI log, a file): wide enough that tags stay on one line.
    width = None if out.isatty() or "COLUMNS" in os.environ else 120
    if args.report == "table":
        console = Console(file=out, highlight=False, width=width)
        console.print()
        render_report(console, plan, result, facts)
        return code
    if args.report == "json":
        json.dump(doc, out, indent=2)
        out.write("\n")
    elif args.report == "markdown":
        out.write(render_markdown(plan, result, facts))
    out.flush()
    # Errors stay on standard error, last, whatever the report's form.
    render_failures(Console(file=sys.stderr, highlight=False), plan, result)
    return code


def _push_tags(names: Sequence[str], targets: Any, err: TextIO) -> dict[str, list[str]]:
    """The tags to push, by target; a target without tags gets a warning."""
    tags: dict[str, list[str]] = {}
    for name in names:
        if targets[name].tags:
            tags[name] = list(targets[name].tags)
        else:
            err.write(f"warning: target {name} has no tags: nothing to push\n")
    return tags


def _cmd_push(args: argparse.Namespace, out: TextIO) -> int:
    import trio

    from bakery.engine.connection import connect
    from bakery.engine.push import PushFailed, missing_images, push_all

    project = _project(args)
    tags = _push_tags(project.select(args.names), project.targets, sys.stderr)
    client = connect()
    missing = missing_images(client, tags)
    if missing:
        target, tag = missing[0]
        raise PushFailed(f"target {target} is not built: no image tagged {tag}",
                         where=f"target.{target}", hint="run `bakery build` first, "
                         "or `bakery build --push` to build and push")
    outcomes = trio.run(lambda: push_all(client, tags, jobs=args.jobs))
    failed = [o for o in outcomes if o.error]
    for o in outcomes:
        if o.digest:
            out.write(f"pushed {o.tag} {o.digest}\n")
    for o in failed:
        report_error(PushFailed(o.error or "", where=f"target.{o.target}", hint=o.hint),
                     sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _push_after_build(client: Any, plan: Any, result: Any, facts: Any,
                      code: int, *, jobs: int) -> tuple[int, Any]:
    """``build --push``: only when every requested target built, push them all."""
    import dataclasses

    import trio

    from bakery.engine.push import push_all
    from bakery.report.summary import Pushed

    if code != EXIT_OK:
        sys.stderr.write("not pushing: not every target built\n")
        return code, facts
    requested = [name for name, t in plan.targets.items() if t.requested]
    tags = _push_tags(requested, {n: plan.targets[n].target for n in requested}, sys.stderr)
    outcomes = trio.run(lambda: push_all(client, tags, jobs=jobs))
    pushed: dict[str, tuple[Pushed, ...]] = {}
    for o in outcomes:
        if o.digest:
            pushed[o.target] = (*pushed.get(o.target, ()), Pushed(o.tag, o.digest))
        else:
            report_error(BakeryError(o.error or "", where=f"target.{o.target}", hint=o.hint),
                         sys.stderr)
            code = EXIT_FAILED
    return code, dataclasses.replace(facts, pushed=pushed)


def _cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.engine.connection import connect
    from bakery.engine.prune import prune
    from bakery.report.summary import human_size

    result = prune(connect())
    for ref, why in result.kept:
        out.write(f"kept {ref}: {why}\n")
    out.write(f"removed {len(result.removed)} stage images"
              f" ({human_size(result.reclaimed)}), untagged {len(result.untagged)}\n")
    return EXIT_OK


def _cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.dockerfile import parse_dockerfile
    from bakery.core.edit import init_text
    from bakery.core.stages import Platform, read_stages
    from bakery.loading import host_platform_name, write_text_atomically

    dockerfile = Path(args.dockerfile)
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {args.dockerfile}: {err.strerror}",
                          where=args.dockerfile, hint="name the Dockerfile to read") from None
    graph = read_stages(parse_dockerfile(text, name=args.dockerfile),
                        platform=Platform(build=host_platform_name()))
    target = Path(args.files[-1] if args.files else "bake.toml")
    existing = target.read_text(encoding="utf-8") if target.exists() else None
    # Paths in a bake file are relative to its own folder (the default context).
    relative = os.path.relpath(dockerfile.resolve(), target.resolve().parent)
    new, added = init_text(existing, graph, dockerfile=relative.replace(os.sep, "/"),
                           project=Path.cwd().name, where=str(target))
    if added:
        write_text_atomically(target, new)
    verb = "wrote" if existing is None else "updated"
    names = ", ".join(added) if added else "none: every final stage has a target"
    out.write(f"{verb if added else 'kept'} {target}: targets added: {names}\n")
    return EXIT_OK


def _cmd_var(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.edit import set_variable
    from bakery.loading import write_text_atomically

    target = Path(args.files[-1] if args.files else "bake.toml")
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no {target} here", where=str(target),
                          hint="write one with `bakery init`, or name it with -f") from None
    write_text_atomically(target, set_variable(text, args.name, args.value, where=str(target)))
    out.write(f"{target}: {args.name} = {args.value!r}\n")
    return EXIT_OK


_COMMANDS = {"build": _cmd_build, "plan": _cmd_plan, "print": _cmd_print, "list": _cmd_list,
             "prune": _cmd_prune, "push": _cmd_push, "init": _cmd_init, "var": _cmd_var}
