"""``bakery build`` and ``bakery push``: the commands that talk to a daemon."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bakery.cli.common import EXIT_FAILED, EXIT_OK, load_project, report_error
from bakery.core.errors import EXIT_CODES, BakeryError, ConfigError, Outcome


def cmd_build(args: argparse.Namespace, out: TextIO) -> int:
    import dataclasses

    import trio
    from rich.console import Console

    from bakery.core.plan import make_plan
    from bakery.engine.connection import connect
    from bakery.engine.daemon import pick_backend
    from bakery.engine.images import Images
    from bakery.engine.on_daemon import daemon_runner
    from bakery.engine.runner import RunOptions
    from bakery.project import DockerfileCache
    from bakery.report.formats import render_markdown, report_json, write_json_atomic
    from bakery.report.progress import make_progress
    from bakery.report.sizes import image_sizes, images_to_inspect
    from bakery.report.summary import render_failures, render_report

    report_file = Path(args.report_file) if args.report_file else None
    if report_file is not None and not report_file.parent.is_dir():
        # Found before building, so that a release script does not lose its report.
        raise ConfigError(
            f"no folder {str(report_file.parent)!r} for the report file",
            where="--report-file",
            hint="create the folder first",
        )
    if report_file is not None and report_file.is_dir():
        raise ConfigError(
            f"{str(report_file)!r} is a folder",
            where="--report-file",
            hint="name the file to write the report to, e.g. DIR/report.json",
        )
    project = load_project(args)
    names = project.select(args.names)
    cache_repo = _cache_repo(args, project.cache_repo)
    plan = make_plan(project.targets, names, DockerfileCache().graph)
    if args.dry_run:
        from bakery.report.plan import render_plan

        out.write(render_plan(plan))
        return EXIT_OK
    hosts = _hosts(args, project)
    # Said once each, after the live view, so that it stays readable.
    warnings: dict[str, None] = {}

    def warn(message: str) -> None:
        warnings.setdefault(message)

    options = RunOptions(
        jobs=args.jobs or 0,
        keep_going=args.keep_going,
        no_cache=args.no_cache,
        pull=args.pull,
        state_dir=(Path.cwd() / project.files[0]).parent / ".bakery",
        allow=frozenset(args.allow),
    )
    if hosts:
        from bakery.cli.several import run_on_several

        result, parts = run_on_several(
            args, project, plan, hosts, options, cache_repo=cache_repo, warn=warn
        )
        jobs = max(options.jobs, 1)
    else:
        client = connect()
        backend = pick_backend(client, args.builder)
        _shm_warning(backend.name, plan)
        jobs = args.jobs or int(client.info().get("NCPU") or 2)
        progress = make_progress(args.progress, plan, sys.stderr)
        with progress:
            runner = daemon_runner(
                plan,
                client,
                backend,
                dataclasses.replace(options, jobs=jobs),
                progress,
                warn=warn,
                cache_repo=cache_repo,
            )
            result = trio.run(lambda: runner.run(handle_signals=True))
        parts = [(client, plan)]
    for message in warnings:
        sys.stderr.write(f"warning: {message}\n")
    code = (
        _stopped_code(result.signal)
        if result.interrupted
        else EXIT_OK
        if result.ok
        else EXIT_FAILED
    )
    sizes: dict[str, tuple[int, int]] = {}
    for daemon, part in parts:
        sizes.update(Images(daemon).sizes(images_to_inspect(part, result)))
    facts = image_sizes(sizes)
    if args.push:
        # Each target's image is pushed from the daemon that has it; only when
        # every target built (else _push_after_build says so, once).
        pushed: dict[str, Any] = {}
        outcome = code
        for daemon, part in parts if code == EXIT_OK else parts[:1]:
            done_code, done = _push_after_build(daemon, part, result, facts, code, jobs=jobs)
            outcome = outcome or done_code
            pushed.update(done.pushed)
        code = outcome
        facts = dataclasses.replace(facts, pushed=pushed)
    doc = report_json(plan, result, facts)
    if report_file is not None:
        try:
            write_json_atomic(report_file, doc)
        except OSError as error:
            report_error(
                BakeryError(
                    f"cannot write the report: {error.strerror or error}", where=str(report_file)
                ),
                sys.stderr,
            )
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


def _shm_warning(backend: str, plan: Any) -> None:
    if backend == "buildkit":
        for name, planned in plan.targets.items():
            if planned.target.shm_size:
                sys.stderr.write(
                    f"warning: target.{name}: shm-size has no effect on "
                    "BuildKit (the daemon ignores it); --builder classic "
                    "applies it\n"
                )


def _hosts(args: argparse.Namespace, project: Any) -> list[Any]:
    """The daemons to build on: ``--host`` (each named by its address), else
    ``[builders.NAME]``; none: the one daemon the environment names."""
    from bakery.core.config import BuildHost
    from bakery.core.config.resolve import host_error

    if args.hosts:
        for host in args.hosts:
            problem = host_error(host)
            if problem:
                raise ConfigError(
                    problem,
                    where="--host",
                    hint="an address as DOCKER_HOST takes it: unix:///PATH, tcp://HOST:PORT, "
                    "ssh://USER@HOST",
                )
        return [BuildHost(host, host) for host in dict.fromkeys(args.hosts)]
    return list(project.builders.values())


def _cache_repo(args: argparse.Namespace, configured: str | None) -> str | None:
    """``--cache-repo`` over ``[cache] repo``."""
    from bakery.core.config.resolve import cache_repo_error

    repo = args.cache_repo or configured
    if args.cache_repo:
        problem = cache_repo_error(args.cache_repo)
        if problem:
            raise ConfigError(
                problem, where="--cache-repo", hint='write "REGISTRY/NAME", without a tag'
            )
    return repo or None


def _push_tags(names: Sequence[str], targets: Any, err: TextIO) -> dict[str, list[str]]:
    """The tags to push, by target; a target without tags gets a warning."""
    tags: dict[str, list[str]] = {}
    for name in names:
        if targets[name].tags:
            tags[name] = list(targets[name].tags)
        else:
            err.write(f"warning: target {name} has no tags: nothing to push\n")
    return tags


def cmd_push(args: argparse.Namespace, out: TextIO) -> int:
    import trio

    from bakery.engine.connection import connect
    from bakery.engine.push import PushFailed, missing_images, push_all

    project = load_project(args)
    tags = _push_tags(project.select(args.names), project.targets, sys.stderr)
    client = connect()
    missing = missing_images(client, tags)
    if missing:
        target, tag = missing[0]
        raise PushFailed(
            f"target {target} is not built: no image tagged {tag}",
            where=f"target.{target}",
            hint="run `bakery build` first, or `bakery build --push` to build and push",
        )
    outcomes = trio.run(lambda: push_all(client, tags, jobs=args.jobs))
    failed = [o for o in outcomes if o.error]
    for o in outcomes:
        if o.digest:
            out.write(f"pushed {o.tag} {o.digest}\n")
    for o in failed:
        report_error(PushFailed(o.error or "", where=f"target.{o.target}", hint=o.hint), sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _push_after_build(
    client: Any, plan: Any, result: Any, facts: Any, code: int, *, jobs: int
) -> tuple[int, Any]:
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
            report_error(
                BakeryError(o.error or "", where=f"target.{o.target}", hint=o.hint), sys.stderr
            )
            code = EXIT_FAILED
    return code, dataclasses.replace(facts, pushed=pushed)


def _stopped_code(number: int | None) -> int:
    """The exit code of a run a signal stopped: 130 for Ctrl-C, 143 for SIGTERM,
    129 for SIGHUP, as a shell reports a process those signals end."""
    outcome = {
        signal.SIGTERM: Outcome.TERMINATED,
        signal.SIGHUP: Outcome.HUNG_UP,
    }.get(signal.Signals(number) if number else signal.SIGINT, Outcome.INTERRUPTED)
    return EXIT_CODES[outcome]
