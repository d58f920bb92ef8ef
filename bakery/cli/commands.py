"""The commands that read the project and need no build: list, print, plan,
prune, init, var."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TextIO

from bakery.cli.common import EXIT_OK, load_project
from bakery.core.errors import ConfigError


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    project = load_project(args)
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


def cmd_print(args: argparse.Namespace, out: TextIO) -> int:
    project = load_project(args)
    names = project.select(args.names)
    doc: dict[str, object] = {
        "group": {g.name: {"targets": list(g.targets)} for g in project.groups.values()},
        "target": {n: project.targets[n].to_json() for n in names},
    }
    if project.cache_repo:
        doc["cache"] = {"repo": project.cache_repo}
    json.dump(doc, out, indent=2)
    out.write("\n")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.plan import make_plan
    from bakery.project import DockerfileCache
    from bakery.report.plan import plan_json, render_plan

    project = load_project(args)
    names = project.select(args.names)
    cache = DockerfileCache()
    plan = make_plan(project.targets, names, cache.graph)
    placement = None
    if project.builders:
        from bakery.core.placement import place

        # Offline: jobs as configured (1 where not): the build counts the CPUs.
        hosts = [(b.name, b.jobs or 1) for b in project.builders.values()]
        placement = place(plan, hosts, through_cache=bool(project.cache_repo))
    if args.format == "json":
        json.dump(plan_json(plan, placement), out, indent=2)
        out.write("\n")
    else:
        out.write(render_plan(plan, placement))
    return EXIT_OK


def cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.engine.connection import connect
    from bakery.engine.prune import prune
    from bakery.report.summary import human_size

    result = prune(connect())
    for ref, why in result.kept:
        out.write(f"kept {ref}: {why}\n")
    out.write(
        f"removed {len(result.removed)} stage images"
        f" ({human_size(result.reclaimed)}), untagged {len(result.untagged)}\n"
    )
    return EXIT_OK


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.dockerfile import parse_dockerfile
    from bakery.core.edit import init_text
    from bakery.core.stages import Platform, read_stages
    from bakery.files import read_regular
    from bakery.project import host_platform_name, write_text_atomically

    dockerfile = Path(args.dockerfile)
    try:
        text = read_regular(dockerfile).decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read {args.dockerfile}: {getattr(err, 'strerror', None) or err}",
            where=args.dockerfile,
            hint="name the Dockerfile to read",
        ) from None
    graph = read_stages(
        parse_dockerfile(text, name=args.dockerfile), platform=Platform(build=host_platform_name())
    )
    target = Path(args.files[-1] if args.files else "bake.toml")
    existing = target.read_text(encoding="utf-8") if target.exists() else None
    # Paths in a bake file are relative to its own folder (the default context).
    relative = os.path.relpath(dockerfile.resolve(), target.resolve().parent)
    new, added = init_text(
        existing,
        graph,
        dockerfile=relative.replace(os.sep, "/"),
        project=Path.cwd().name,
        where=str(target),
    )
    if added:
        write_text_atomically(target, new)
    verb = "wrote" if existing is None else "updated"
    names = ", ".join(added) if added else "none: every final stage has a target"
    out.write(f"{verb if added else 'kept'} {target}: targets added: {names}\n")
    return EXIT_OK


def cmd_var(args: argparse.Namespace, out: TextIO) -> int:
    from bakery.core.edit import set_variable
    from bakery.project import write_text_atomically

    target = Path(args.files[-1] if args.files else "bake.toml")
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no {target} here",
            where=str(target),
            hint="write one with `bakery init`, or name it with -f",
        ) from None
    write_text_atomically(target, set_variable(text, args.name, args.value, where=str(target)))
    out.write(f"{target}: {args.name} = {args.value!r}\n")
    return EXIT_OK
