"""``bakery build`` on several daemons: reach each, place the targets, run the fleet."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from bakery.core.config import BuildHost, Project
from bakery.core.plan import Plan


def run_on_several(
    args: argparse.Namespace,
    project: Project,
    plan: Plan,
    hosts: list[BuildHost],
    options: Any,
    *,
    cache_repo: str | None,
    warn: Any,
) -> tuple[Any, list[tuple[Any, Plan]]]:
    """The merged result, and (client, part of the plan) of each daemon used.

    A daemon that does not answer is named and left out, its work placed on the
    others; with ``--keep-going``, what a daemon lost during the run leaves is
    built on the others after. Raises DaemonUnreachable when none answers."""
    from bakery.core.plan import make_plan
    from bakery.core.status import Status
    from bakery.engine.backend import DaemonUnreachable
    from bakery.engine.connection import connect
    from bakery.engine.daemon import pick_backend
    from bakery.engine.fleet import lost, with_retry
    from bakery.project import DockerfileCache

    reached: list[tuple[BuildHost, Any, Any, int]] = []
    for host in hosts:
        try:
            client = connect(environ={**os.environ, "DOCKER_HOST": host.host})
            backend = pick_backend(client, args.builder)
            jobs = host.jobs or options.jobs or int(client.info().get("NCPU") or 2)
        except DaemonUnreachable as err:
            sys.stderr.write(f"warning: builder {host.name}: {err}; its work goes to the others\n")
            continue
        reached.append((host, client, backend, jobs))
    if not reached:
        raise DaemonUnreachable(
            f"none of the {len(hosts)} builders answers",
            hint="check each [builders.NAME] host (or --host), and that its daemon runs",
        )
    result, parts, members = _round(
        args, project, plan, reached, options, cache_repo=cache_repo, warn=warn
    )
    gone = lost(members)
    if gone and options.keep_going and not result.interrupted:
        # What the lost daemons left goes to the others, in a second round.
        left = [r for r in reached if r[0].name not in gone]
        retry = [
            name
            for name, daemon in result.placement.items()
            if daemon in gone and result.targets[name].status not in (Status.BUILT, Status.CACHED)
        ]
        if left and retry:
            for name, why in gone.items():
                sys.stderr.write(
                    f"warning: builder {name} was lost ({why}); "
                    f"{', '.join(t for t in retry if result.placement[t] == name)} "
                    "go to the others\n"
                )
            again = make_plan(project.targets, retry, DockerfileCache().graph)
            second, more, _ = _round(
                args, project, again, left, options, cache_repo=cache_repo, warn=warn
            )
            result = with_retry(result, second)
            parts += more
    return result, parts


def _round(
    args: argparse.Namespace,
    project: Project,
    plan: Plan,
    reached: list[tuple[BuildHost, Any, Any, int]],
    options: Any,
    *,
    cache_repo: str | None,
    warn: Any,
) -> tuple[Any, list[tuple[Any, Plan]], list[Any]]:
    """One run of ``plan`` placed on the ``reached`` daemons."""
    import trio

    from bakery.core.placement import place
    from bakery.core.plan import make_plan
    from bakery.engine.exchange import Exchange
    from bakery.engine.fleet import Member, run_fleet
    from bakery.engine.on_daemon import daemon_runner
    from bakery.engine.share import Share
    from bakery.project import DockerfileCache
    from bakery.report.progress import make_progress

    placement = place(
        plan, [(h.name, jobs) for h, _, _, jobs in reached], through_cache=bool(cache_repo)
    )
    graph = DockerfileCache().graph
    exchange = Exchange()
    progress = make_progress(args.progress, plan, sys.stderr)
    members: list[Member] = []
    parts: list[tuple[Any, Plan]] = []
    for host, client, backend, jobs in reached:
        # The targets asked for (those only needed come with them, unasked, as
        # in the whole plan: --push pushes the same ones).
        names = [n for n in placement.targets_on(host.name) if plan.targets[n].requested]
        if not names:
            continue
        part = make_plan(project.targets, names, graph)
        share = Share(
            name=host.name,
            remote=placement.pulled_on(host.name),
            exported=frozenset(placement.pushed_from(host.name)),
            exchange=exchange,
        )
        runner = daemon_runner(
            part,
            client,
            backend,
            dataclasses.replace(options, jobs=jobs),
            progress,
            warn=warn,
            cache_repo=cache_repo,
            share=share,
        )
        members.append(Member(host.name, part, runner))
        parts.append((client, part))
    with progress:
        result = trio.run(
            lambda: run_fleet(
                plan,
                placement,
                members,
                exchange,
                keep_going=options.keep_going,
                handle_signals=True,
            )
        )
    return result, parts, members
