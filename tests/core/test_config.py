"""The bake.toml model, driven by tables: valid files and what they resolve to,
and every configuration error with its exact message and place."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bakery.core.config import (
    Project,
    SourceFile,
    Target,
    load_project,
    parse_assignment,
)
from bakery.core.errors import ConfigError, CycleError

ROOT = Path(__file__).resolve().parents[2]

SEED = """\
[variables]
VERSION = "dev"
REGISTRY = "localhost:5000"

[group.default]
targets = ["client", "server"]

[target.client]
context = "."
dockerfile = "Dockerfile"
target = "client"
tags = ["buildme-client:latest", "${REGISTRY}/buildme-client:${VERSION}"]
description = "command-line client"

[target.server]
inherits = ["client"]
target = "server"
tags = ["buildme-server:latest", "${REGISTRY}/buildme-server:${VERSION}"]
"""

# A file is its text (bake.toml in /p) or (path, text, base_dir).
File = str | tuple[str, str, str]


def source(file: File) -> SourceFile:
    if isinstance(file, str):
        return SourceFile(path="bake.toml", text=file, base_dir="/p")
    path, text, base_dir = file
    return SourceFile(path=path, text=text, base_dir=base_dir)


def load(files: Sequence[File], **kwargs: Any) -> Project:
    options: dict[str, Any] = {"env": {}, "cli_vars": {}, "builtins": {}}
    options.update(kwargs)
    return load_project([source(f) for f in files], **options)


def get(project: Project, path: str) -> object:
    """``target.NAME.attr``, ``group.NAME.attr``, ``json.NAME``, ``variables.NAME``,
    or ``select NAME...``."""
    if path.startswith("select"):
        return project.select(path.split()[1:])
    kind, _, rest = path.partition(".")
    if kind == "variables":
        return project.variables[rest]
    if kind == "json":
        return project.targets[rest].to_json()
    name, _, attr = rest.rpartition(".")
    table: Mapping[str, object] = project.targets if kind == "target" else project.groups
    return getattr(table[name], attr)


# -- valid files -----------------------------------------------------------------------

VALID: list[tuple[list[File], dict[str, Any], dict[str, object]]] = [
    (
        [SEED],
        {},
        {
            "target.client.context": "/p",
            "target.client.dockerfile": "/p/Dockerfile",
            "target.client.tags": ("buildme-client:latest", "localhost:5000/buildme-client:dev"),
            "target.server.target": "server",
            "target.server.inherits": ("client",),
            "target.server.tags": ("buildme-server:latest", "localhost:5000/buildme-server:dev"),
            # inherits copies every attribute the child does not set
            "target.server.description": "command-line client",
            "target.server.context": "/p",
            "select": ("client", "server"),
            "select server": ("server",),
            "select all": ("client", "server"),
        },
    ),
    (
        ["[target.app]\n"],
        {},
        {
            "target.app.context": "/p",
            "target.app.dockerfile": "/p/Dockerfile",
            "target.app.target": None,
            "target.app.tags": (),
            "target.app.args": {},
            "target.app.platform": None,
            "target.app.output": None,
            "target.app.no_cache": False,
            "json.app": {"context": "/p", "dockerfile": "/p/Dockerfile"},
            "select": ("app",),
        },
    ),
    (
        [SEED],
        {"env": {"VERSION": "1.0", "HOME": "/root"}},
        {
            "variables.VERSION": "1.0",
            "target.client.tags": ("buildme-client:latest", "localhost:5000/buildme-client:1.0"),
        },
    ),
    (
        [SEED],
        {"env": {"VERSION": "1.0"}, "cli_vars": {"VERSION": "2.0"}},
        {"variables.VERSION": "2.0", "variables.REGISTRY": "localhost:5000"},
    ),
    (
        [
            (
                '[variables]\nREG = "r.io"\nIMAGE = "${REG}/app"\nTAG = "${IMAGE}:${V}"\nV = "1"\n'
                '[target.app]\ntags = ["${TAG}"]\n'
            )
        ],
        {},
        # a variable may use variables declared before or after it
        {"target.app.tags": ("r.io/app:1",), "variables.TAG": "r.io/app:1"},
    ),
    (
        [
            (
                '[variables]\nREG = "r.io"\nIMAGE = "${REG}/app"\n'
                '[target.app]\nargs = { IMAGE = "${IMAGE}" }\n'
            )
        ],
        {"cli_vars": {"REG": "${literal}"}},
        # values from --var, the environment and built-ins are not expanded again
        {"target.app.args": {"IMAGE": "${literal}/app"}, "variables.IMAGE": "${literal}/app"},
    ),
    (
        [
            (
                '[target.app]\ndescription = "costs $${X}, $$ and $5"\n'
                'dockerfile-inline = "FROM alpine\\nARG X\\nRUN echo $${X} $X\\n"\n'
            )
        ],
        {},
        {
            "target.app.description": "costs ${X}, $$ and $5",
            "target.app.dockerfile_inline": "FROM alpine\nARG X\nRUN echo ${X} $X\n",
        },
    ),
    (
        [
            (
                '[variables]\nGIT_SHA = "unknown"\n[target.app]\n'
                'tags = ["app:${GIT_SHORT_SHA}", "app:${GIT_SHA}", "app:${TIMESTAMP}"]\n'
            )
        ],
        {
            "builtins": {
                "GIT_SHA": "0123456789ab",
                "GIT_SHORT_SHA": "0123456",
                "TIMESTAMP": "20240102T030405Z",
            }
        },
        # a built-in beats the file's fallback
        {"target.app.tags": ("app:0123456", "app:0123456789ab", "app:20240102T030405Z")},
    ),
    (
        ['[variables]\nGIT_SHA = "unknown"\n[target.app]\ntags = ["app:${GIT_SHA}"]\n'],
        {"builtins": {"TIMESTAMP": "20240102T030405Z"}},
        # outside a git work tree the file's value is the fallback
        {"target.app.tags": ("app:unknown",), "variables.TIMESTAMP": "20240102T030405Z"},
    ),
    (
        ['[target.app]\ntags = ["app:${GIT_SHA}"]\n'],
        {"builtins": {"GIT_SHA": "abc"}, "cli_vars": {"GIT_SHA": "fixed"}},
        {"target.app.tags": ("app:fixed",)},
    ),
    (
        ['[target.app]\ntags = ["app:${GIT_SHA}"]\n'],
        # the environment reaches only variables the file declares
        {"builtins": {"GIT_SHA": "abc"}, "env": {"GIT_SHA": "from-env"}},
        {"target.app.tags": ("app:abc",)},
    ),
    (
        [
            SEED,
            (
                "override.toml",
                (
                    '[variables]\nVERSION = "rc"\n'
                    '[target.client]\ncontext = "src"\nargs = { B = "2" }\n'
                    '[target.extra]\ncontext = "."\n'
                ),
                "/p/sub",
            ),
        ],
        {},
        {
            "variables.VERSION": "rc",
            "variables.REGISTRY": "localhost:5000",
            # later files override attribute by attribute, relative to their own folder
            "target.client.context": "/p/sub/src",
            "target.client.dockerfile": "/p/sub/src/Dockerfile",
            "target.client.target": "client",
            "target.client.tags": ("buildme-client:latest", "localhost:5000/buildme-client:rc"),
            "target.server.context": "/p/sub/src",
            "target.extra.context": "/p/sub",
            "select": ("client", "server"),
            "select all": ("client", "server", "extra"),
        },
    ),
    (
        [
            '[target.app]\nargs = { A = "1", B = "1" }\nlabels = { x = "1" }\n',
            ("two.toml", '[target.app]\nargs = { B = "2", C = "2" }\n', "/p"),
        ],
        {},
        {"target.app.args": {"A": "1", "B": "2", "C": "2"}, "target.app.labels": {"x": "1"}},
    ),
    (
        [
            (
                '[target.a]\nargs = { A = "a", X = "a" }\ntags = ["a"]\nplatform = "linux/amd64"\n'
                '[target.b]\nargs = { B = "b", X = "b" }\ntags = ["b"]\nno-cache = true\n'
                '[target.c]\ninherits = ["a", "b"]\nargs = { C = "c" }\n'
                '[target.d]\ninherits = ["c"]\ntags = ["d"]\n'
            )
        ],
        {},
        {
            # later parents override earlier ones; maps merge key by key; the child wins
            "target.c.args": {"A": "a", "X": "b", "B": "b", "C": "c"},
            "target.c.tags": ("b",),
            "target.c.platform": "linux/amd64",
            "target.c.no_cache": True,
            "target.d.args": {"A": "a", "X": "b", "B": "b", "C": "c"},
            "target.d.tags": ("d",),
            "target.d.inherits": ("c",),
        },
    ),
    (
        [('[target.client]\ntags = ["c"]\nargs = { A = "1" }\n[target.server]\ntags = ["s"]\n')],
        {
            "sets": [
                "*.tags+=extra:1",
                "client.args.FOO=bar",
                "*.args+=K=V",
                "server.platform=linux/arm64",
                "client.no-cache=true",
                "server.contexts.base=target:client",
                "client.context=src",
                "server.labels.org.opencontainers.image.title=Server",
            ],
            "cwd": "/work",
        },
        {
            "target.client.tags": ("c", "extra:1"),
            "target.server.tags": ("s", "extra:1"),
            "target.client.args": {"A": "1", "FOO": "bar", "K": "V"},
            "target.server.args": {"K": "V"},
            "target.server.platform": "linux/arm64",
            "target.client.platform": None,
            "target.client.no_cache": True,
            "target.server.contexts": {"base": "target:client"},
            "target.client.context": "/work/src",
            "target.server.labels": {"org.opencontainers.image.title": "Server"},
        },
    ),
    (
        ['[target.app]\ntags = ["a", "b"]\nargs = { A = "1" }\n'],
        {"sets": ["app.tags=", "app.args=B=2", "app.pull=1"]},
        {"target.app.tags": (), "target.app.args": {"B": "2"}, "target.app.pull": True},
    ),
    (
        [
            (
                '[target.app]\nplatform = ["linux/arm64"]\noutput = ["type=local,dest=out"]\n'
                'extra-hosts = { db = "10.0.0.2" }\nshm-size = 64\n'
                "args = { PORT = 8080, DEBUG = false, RATIO = 1.5 }\n"
                '[target.other]\nextra-hosts = ["db:10.0.0.2", "cache=10.0.0.3"]\n'
                'output = "type=docker"\nshm-size = "1g"\n'
            )
        ],
        {},
        {
            "target.app.platform": "linux/arm64",
            "target.app.output": "type=local,dest=/p/out",
            "target.app.extra_hosts": ("db:10.0.0.2",),
            "target.app.shm_size": "64",
            "target.app.args": {"PORT": "8080", "DEBUG": "false", "RATIO": "1.5"},
            "target.other.extra_hosts": ("db:10.0.0.2", "cache:10.0.0.3"),
            "target.other.output": "type=docker",
            "target.other.shm_size": "1g",
        },
    ),
    (
        [
            (
                '[target.base]\n[target.app]\ncontext = "app"\n'
                'dockerfile = "../docker/app.Dockerfile"\n'
                'contexts = { base = "target:base", files = "shared", img = "docker-image://alpine:3",'
                ' git = "https://github.com/x/y.git" }\n'
                '[target.remote]\ncontext = "https://github.com/x/y.git#main"\n'
                'dockerfile = "build/Dockerfile"\n'
            )
        ],
        {},
        {
            "target.app.context": "/p/app",
            "target.app.dockerfile": "/p/docker/app.Dockerfile",
            "target.app.contexts": {
                "base": "target:base",
                "files": "/p/shared",
                "img": "docker-image://alpine:3",
                "git": "https://github.com/x/y.git",
            },
            "target.remote.context": "https://github.com/x/y.git#main",
            "target.remote.dockerfile": "build/Dockerfile",
        },
    ),
    (
        [
            (
                '[group.default]\ntargets = ["b", "inner"]\n'
                '[group.inner]\ntargets = ["a", "b", "c"]\ndescription = "the inner ones"\n'
                '[group.everything]\ntargets = ["all"]\n'
                "[target.a]\n[target.b]\n[target.c]\n[target.d]\n"
            )
        ],
        {},
        {
            "select": ("b", "a", "c"),
            "select d inner a": ("d", "a", "b", "c"),
            "select everything": ("a", "b", "c", "d"),
            "group.inner.description": "the inner ones",
            "group.inner.targets": ("a", "b", "c"),
        },
    ),
    (
        ['[group.all]\ntargets = ["a"]\n[target.a]\n[target.b]\n'],
        {},
        {"select": ("a",), "select all b": ("a", "b")},
    ),
    (
        [
            (
                '[target.client.args]\nA = "1"\n[target.client.labels]\n"com.example.x" = "y"\n'
                '[target."app.v2"]\ninherits = ["client"]\n'
            )
        ],
        {"sets": ["app.v2.tags+=app:v2"]},
        {
            "target.client.args": {"A": "1"},
            "target.client.labels": {"com.example.x": "y"},
            "target.app.v2.args": {"A": "1"},
            "target.app.v2.tags": ("app:v2",),
        },
    ),
    (
        [
            (
                '[target.app]\ncontext = "ctx"\ndockerfile = "/abs/Dockerfile"\ntarget = "final"\n'
                'tags = ["app:1"]\nargs = { A = "1" }\nlabels = { l = "v" }\n'
                'platform = "linux/amd64"\n'
                'depends-on = ["db"]\ncontexts = { c = "target:db" }\n'
                'cache-from = ["type=local,src=c"]\n'
                'no-cache = true\npull = true\nnetwork = "host"\nextra-hosts = ["h:1.2.3.4"]\n'
                'shm-size = "64m"\noutput = "type=local,dest=/out"\ndescription = "the app"\n'
                'dockerfile-inline = "FROM scratch"\n[target.db]\n'
            )
        ],
        {},
        {
            "json.app": {
                "context": "/p/ctx",
                "dockerfile": "/abs/Dockerfile",
                "dockerfile-inline": "FROM scratch",
                "target": "final",
                "tags": ["app:1"],
                "args": {"A": "1"},
                "labels": {"l": "v"},
                "platform": "linux/amd64",
                "depends-on": ["db"],
                "contexts": {"c": "target:db"},
                "cache-from": ["type=local,src=c"],
                "no-cache": True,
                "pull": True,
                "network": "host",
                "extra-hosts": ["h:1.2.3.4"],
                "shm-size": "64m",
                "output": "type=local,dest=/out",
                "description": "the app",
            }
        },
    ),
]


@pytest.mark.parametrize(
    ("files", "options", "expected"),
    VALID,
    ids=[
        "seed",
        "defaults",
        "env-beats-file",
        "var-beats-env",
        "variables-nest",
        "variables-verbatim",
        "dollar-escape",
        "builtins",
        "builtin-fallback",
        "var-beats-builtin",
        "env-only-for-declared",
        "layering",
        "layering-merges-maps",
        "inherits-multi-level",
        "set",
        "set-replaces",
        "attribute-forms",
        "paths",
        "groups",
        "group-all-defined",
        "subtables-and-dotted-names",
        "to-json-every-attribute",
    ],
)
def test_valid(files: list[File], options: dict[str, Any], expected: dict[str, object]) -> None:
    project = load(files, **options)
    assert {path: get(project, path) for path in expected} == expected


# -- errors ----------------------------------------------------------------------------

ERRORS: list[tuple[list[File], dict[str, Any], str, str | None]] = [
    (
        ['[target.client]\ntarget = "client"\ntag = ["x"]\n'],
        {},
        'unknown attribute "tag" in target.client; did you mean "tags"?',
        "bake.toml:3",
    ),
    (
        ["[target.client]\nno_cache = true\n"],
        {},
        'unknown attribute "no_cache" in target.client; did you mean "no-cache"?',
        "bake.toml:2",
    ),
    (
        [
            (
                '[target.a]\ndescription = """\nline\ntag = 1\n"""\ncache-from = [\n  "x",\n]\n'
                "bogus = 1\n"
            )
        ],
        {},
        'unknown attribute "bogus" in target.a',
        "bake.toml:9",
    ),
    (
        ['[group.default]\ntarget = ["a"]\n[target.a]\n'],
        {},
        'unknown attribute "target" in group.default; did you mean "targets"?',
        "bake.toml:2",
    ),
    (
        ["[targets.client]\n"],
        {},
        'unknown top-level table "targets"; did you mean "target"?',
        "bake.toml:1",
    ),
    (
        ['[target.a]\n[group.default]\ntargets = ["a", "clinet"]\n[target.client]\n'],
        {},
        'unknown target or group "clinet" in group.default.targets; did you mean "client"?',
        "bake.toml:3",
    ),
    (
        [SEED],
        {"select": ["clinet"]},
        'unknown target or group "clinet"; did you mean "client"?',
        None,
    ),
    (
        [SEED.replace('inherits = ["client"]', 'inherits = ["clinet"]')],
        {},
        'unknown target "clinet" in target.server.inherits; did you mean "client"?',
        "bake.toml:16",
    ),
    (
        ['[target.migrate]\n[target.app]\ndepends-on = ["migrat"]\n'],
        {},
        'unknown target "migrat" in target.app.depends-on; did you mean "migrate"?',
        "bake.toml:3",
    ),
    (
        ['[target.base]\n[target.app]\ncontexts = { b = "target:bse" }\n'],
        {},
        'unknown target "bse" in target.app.contexts.b; did you mean "base"?',
        "bake.toml:3",
    ),
    (
        [SEED.replace("${VERSION}", "${VERSON}", 1)],
        {},
        'unknown variable "VERSON" in target.client.tags; did you mean "VERSION"?',
        "bake.toml:12",
    ),
    (
        ['[target.app]\ntags = ["app:${HOME}"]\n'],
        {"env": {"HOME": "/root"}},
        'unknown variable "HOME" in target.app.tags',
        "bake.toml:2",
    ),
    (['[variables]\nA = "${B}"\n'], {}, 'unknown variable "B" in variables.A', "bake.toml:2"),
    (
        ['[target.app]\ntags = ["app:${GIT_SHA}"]\n'],
        {},
        'variable "GIT_SHA" in target.app.tags is not set: the bake file is not in a git work tree',
        "bake.toml:2",
    ),
    (
        ['[target.app]\nargs = { A = "${A:-x}" }\n'],
        {},
        'bad variable reference "${A:-x}" in target.app.args.A',
        "bake.toml:2",
    ),
    (
        ['[target.app]\ndescription = "${A"\n'],
        {},
        'bad variable reference "${A" in target.app.description',
        "bake.toml:2",
    ),
    (
        ['[target.a]\ninherits = ["b"]\n[target.b]\ninherits = ["a"]\n'],
        {},
        "cycle in inherits: a -> b -> a",
        "bake.toml:2",
    ),
    (['[target.a]\ninherits = ["a"]\n'], {}, "cycle in inherits: a -> a", "bake.toml:2"),
    (
        [
            (
                '[target.a]\ndepends-on = ["b"]\n[target.b]\ndepends-on = ["c"]\n'
                '[target.c]\ndepends-on = ["a"]\n'
            )
        ],
        {},
        "cycle in depends-on: a -> b -> c -> a",
        "bake.toml:2",
    ),
    (
        ['[target.a]\ndepends-on = ["b"]\n[target.b]\ncontexts = { x = "target:a" }\n'],
        {},
        "cycle in depends-on and contexts: a -> b -> a",
        "bake.toml:2",
    ),
    (
        ['[group.x]\ntargets = ["y"]\n[group.y]\ntargets = ["t", "x"]\n[target.t]\n'],
        {},
        "cycle in groups: x -> y -> x",
        "bake.toml:2",
    ),
    (
        ['[variables]\nA = "${B}"\nB = "x${A}"\n'],
        {},
        "cycle in variables: A -> B -> A",
        "bake.toml:2",
    ),
    (
        ['[target.app]\ntags = "app:latest"\n'],
        {},
        "target.app.tags must be a list of strings, not a string",
        "bake.toml:2",
    ),
    (
        ['[target.app]\ntags = ["a", 1]\n'],
        {},
        "target.app.tags must be a list of strings, not item 2 is an integer",
        "bake.toml:2",
    ),
    (
        ['[target.app]\nno-cache = "yes"\n'],
        {},
        "target.app.no-cache must be true or false, not a string",
        "bake.toml:2",
    ),
    (
        ['[target.app]\nargs = ["A=1"]\n'],
        {},
        "target.app.args must be a table of strings, not a list",
        "bake.toml:2",
    ),
    (
        ['[target.app]\nargs = { A = ["1"] }\n'],
        {},
        "target.app.args.A must be a string, number or boolean, not a list",
        "bake.toml:2",
    ),
    (
        ['[target.app]\nplatform = ["linux/amd64", "linux/arm64"]\n'],
        {},
        "target.app.platform takes one platform, not 2",
        "bake.toml:2",
    ),
    (
        ['[variables]\nP = "linux/amd64,linux/arm64"\n[target.app]\nplatform = "${P}"\n'],
        {},
        'target.app.platform takes one platform, not "linux/amd64,linux/arm64"',
        "bake.toml:4",
    ),
    (['target = "app"\n'], {}, "target must be a table [target.NAME], not a string", "bake.toml:1"),
    (['[target]\napp = "x"\n'], {}, "target.app must be a table, not a string", "bake.toml:2"),
    (
        ["[variables]\nV = { a = 1 }\n"],
        {},
        "variables.V must be a string, not a table",
        "bake.toml:2",
    ),
    (['[target."a b"]\n'], {}, 'invalid target name "a b"', "bake.toml:1"),
    (
        ["[target.x]\n[group.x]\ntargets = []\n"],
        {},
        '"x" is both a target and a group',
        "bake.toml:2",
    ),
    (
        ['[target.app]\ntags = ["Buildme:latest"]\n'],
        {},
        'invalid tag "Buildme:latest" in target.app.tags',
        "bake.toml:2",
    ),
    (
        ['[variables]\nREGISTRY = ""\n[target.app]\ntags = ["${REGISTRY}/app"]\n'],
        {},
        'invalid tag "/app" in target.app.tags',
        "bake.toml:4",
    ),
    (
        ['[target.app]\noutput = "type=registry"\n'],
        {},
        'unsupported output type "registry" in target.app.output',
        "bake.toml:2",
    ),
    (
        ['[target.app]\noutput = "type=local"\n'],
        {},
        "target.app.output of type local needs dest=DIR",
        "bake.toml:2",
    ),
    (
        ['[target.app]\nextra-hosts = ["db"]\n'],
        {},
        'invalid host "db" in target.app.extra-hosts',
        "bake.toml:2",
    ),
    (
        ['[target.app]\nshm-size = "lots"\n'],
        {},
        'invalid size "lots" in target.app.shm-size',
        "bake.toml:2",
    ),
    (['[target.app]\ntags = ["a"\n'], {}, "invalid TOML: Unexpected end of file", "bake.toml:2"),
    (
        ['[target.app]\ntags = ["a"] x\n'],
        {},
        "invalid TOML: Unexpected character: 'x'",
        "bake.toml:2",
    ),
    (
        ["[target.app]\ntags = []\ntags = []\n"],
        {},
        'invalid TOML: Key "tags" already exists.',
        "bake.toml:3",
    ),
    (
        [SEED, ("override.toml", '\n[target.client]\ntag = "x"\n', "/p")],
        {},
        'unknown attribute "tag" in target.client; did you mean "tags"?',
        "override.toml:3",
    ),
    ([SEED], {"sets": ["client"]}, '--set expects PATTERN.KEY=VALUE, got "client"', "--set"),
    (
        [SEED],
        {"sets": ["client.tags"]},
        '--set expects PATTERN.KEY=VALUE, got "client.tags"',
        "--set",
    ),
    (
        [SEED],
        {"sets": ["clinet.tags=x"]},
        'no target matches "clinet"; did you mean "client"?',
        "--set clinet.tags=x",
    ),
    ([SEED], {"sets": ["web-*.tags=x"]}, 'no target matches "web-*"', "--set web-*.tags=x"),
    (
        [SEED],
        {"sets": ["client.tag=x"]},
        'unknown attribute "tag"; did you mean "tags"?',
        "--set client.tag=x",
    ),
    (
        [SEED],
        {"sets": ["*.platform+=linux/arm64"]},
        '"+=" appends to a list or map; platform is one value: write *.platform=VALUE',
        "--set *.platform+=linux/arm64",
    ),
    (
        [SEED],
        {"sets": ["*.tags.x=y"]},
        '"tags" has no keys: write *.tags=VALUE',
        "--set *.tags.x=y",
    ),
    (
        [SEED],
        {"sets": ["server.inherits=client"]},
        "inherits cannot be changed with --set: --set applies after inheritance",
        "--set server.inherits=client",
    ),
    (
        [SEED],
        {"sets": ["*.no-cache=yes"]},
        'no-cache must be true or false, not "yes"',
        "--set *.no-cache=yes",
    ),
    ([SEED], {"sets": ["*.args+=FOO"]}, 'args takes KEY=VALUE, got "FOO"', "--set *.args+=FOO"),
    (
        [SEED],
        {"sets": ["*.depends-on=nope"]},
        'unknown target "nope" in target.client.depends-on',
        "--set *.depends-on=nope",
    ),
    (
        [SEED],
        {"sets": ["client.tags=Bad Tag"]},
        'invalid tag "Bad Tag" in target.client.tags',
        "--set client.tags=Bad Tag",
    ),
    (
        [SEED],
        {"cli_vars": {"VERISON": "1"}},
        'unknown variable "VERISON" in --var; did you mean "VERSION"?',
        "--var",
    ),
    ([SEED], {"var": "VERSION"}, '--var expects NAME=VALUE, got "VERSION"', "--var"),
    ([SEED], {"var": "1X=2"}, 'invalid variable name "1X" in --var', "--var"),
]


@pytest.mark.parametrize(
    ("files", "options", "message", "where"),
    ERRORS,
    ids=[
        "unknown-attribute",
        "snake-case-attribute",
        "line-after-multiline-values",
        "unknown-group-attribute",
        "unknown-top-level",
        "unknown-group-member",
        "unknown-selected",
        "unknown-parent",
        "unknown-depends-on",
        "unknown-context-target",
        "unknown-variable",
        "env-not-declared",
        "unknown-variable-in-variable",
        "builtin-missing",
        "bad-reference",
        "unclosed-reference",
        "cycle-inherits",
        "cycle-inherits-self",
        "cycle-depends-on",
        "cycle-depends-on-and-contexts",
        "cycle-groups",
        "cycle-variables",
        "tags-not-list",
        "tags-item-not-string",
        "bool-not-bool",
        "args-not-table",
        "args-value-list",
        "platform-two",
        "platform-comma",
        "target-not-table",
        "target-entry-not-table",
        "variable-table",
        "bad-target-name",
        "target-and-group",
        "tag-uppercase",
        "tag-empty-registry",
        "output-type",
        "output-local-no-dest",
        "extra-host",
        "shm-size",
        "toml-eof",
        "toml-char",
        "toml-duplicate",
        "error-in-second-file",
        "set-no-key",
        "set-no-value",
        "set-no-match",
        "set-no-match-glob",
        "set-unknown-attribute",
        "set-append-scalar",
        "set-key-on-list",
        "set-inherits",
        "set-bool",
        "set-map-append-no-eq",
        "set-depends-on-unknown",
        "set-bad-tag",
        "var-unknown",
        "var-malformed",
        "var-bad-name",
    ],
)
def test_error(files: list[File], options: dict[str, Any], message: str, where: str | None) -> None:
    select = options.pop("select", None)
    var = options.pop("var", None)

    def attempt() -> object:
        if var is not None:
            return parse_assignment(var)
        return load(files, **options).select(select or [])

    with pytest.raises(ConfigError) as info:
        attempt()
    assert (info.value.message, info.value.where) == (message, where)
    assert info.value.exit_code == 2
    if isinstance(info.value, CycleError):
        assert info.value.cycle[0] == info.value.cycle[-1]


# Where tomlkit stops at a duplicate key, the key scanner walks on to find its line, over
# text that may hold a second error. It once looped forever there: run it in a subprocess
# with a timeout, so that a regression fails this test instead of hanging the suite.
LOAD_AND_PRINT_ERROR = """\
import json, sys
from bakery.core.config import SourceFile, load_project
from bakery.core.errors import ConfigError
try:
    load_project([SourceFile("bake.toml", sys.argv[1], "/p")], env={}, cli_vars={}, builtins={})
except ConfigError as err:
    print(json.dumps([err.message, err.where]))
"""


@pytest.mark.parametrize(
    "second_error",
    ["x = '''never closed\n", "x = [1 }\n"],
    ids=["unclosed-literal-string", "brace-in-array"],
)
def test_duplicate_key_before_a_second_error(second_error: str) -> None:
    text = "[target.app]\ntags = []\ntags = []\n" + second_error
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PRINT_ERROR, text],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout) == ['invalid TOML: Key "tags" already exists.', "bake.toml:3"]


def test_cycle_error_prints_the_chain() -> None:
    with pytest.raises(CycleError) as info:
        load(['[target.a]\ninherits = ["b"]\n[target.b]\ninherits = ["a"]\n'])
    assert str(info.value) == "bake.toml:2: cycle in inherits: a -> b -> a"


def test_select_reports_group_cycles_of_a_hand_made_project() -> None:
    from bakery.core.config import Group

    project = Project(
        files=(),
        variables={},
        targets={},
        groups={"x": Group("x", ("y",)), "y": Group("y", ("x",))},
    )
    with pytest.raises(CycleError) as info:
        project.select(["x"])
    assert info.value.message == "cycle in groups: x -> y -> x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("VERSION=1.2.3", ("VERSION", "1.2.3")), ("A=", ("A", "")), ("A=b=c", ("A", "b=c"))],
    ids=["plain", "empty", "equals-in-value"],
)
def test_parse_assignment(text: str, expected: tuple[str, str]) -> None:
    assert parse_assignment(text) == expected


def test_targets_are_frozen_and_hashable() -> None:
    target = Target(name="a", args={"A": "1"}, tags=["x"])  # type: ignore[arg-type]
    assert target.args == {"A": "1"}
    assert target.tags == ("x",)
    assert hash(target) == hash(Target(name="a", args={"A": "1"}, tags=("x",)))
    with pytest.raises(TypeError):
        target.args["B"] = "2"  # type: ignore[index]


@pytest.mark.parametrize(
    "path", ["bake.toml.example", "examples/buildme/bake.toml"], ids=["example", "buildme"]
)
def test_shipped_files_load(path: str) -> None:
    text = (ROOT / path).read_text()
    project = load(
        [(path, text, "/p")],
        builtins={
            "GIT_SHA": "0" * 40,
            "GIT_SHORT_SHA": "0" * 7,
            "GIT_BRANCH": "main",
            "GIT_TAG": "",
            "TIMESTAMP": "20240102T030405Z",
        },
    )
    assert project.select([])
    for target in project.targets.values():
        assert target.to_json()["context"]


@pytest.mark.parametrize(
    ("text", "names", "message", "where"),
    [
        (
            "[group.default]\ntargets = []\n[target.a]\n",
            [],
            'group "default" has no targets',
            "group.default",
        ),
        ("[variables]\nA = '1'\n", ["all"], "there are no targets", None),
    ],
    ids=["empty-default-group", "no-targets-at-all"],
)
def test_a_selection_of_no_target_is_an_error(
    text: str, names: list[str], message: str, where: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load([text]).select(names)
    assert info.value.message == message
    assert info.value.where == where
    assert info.value.hint is not None


def test_a_variable_that_doubles_again_and_again_stops_at_the_size_limit() -> None:
    lines = ["[variables]", 'V0 = "xx"']
    lines += [f'V{i} = "${{V{i - 1}}}${{V{i - 1}}}"' for i in range(1, 25)]
    lines += ["[target.a]", 'tags = ["${V24}"]']
    with pytest.raises(ConfigError) as info:
        load(["\n".join(lines) + "\n"])
    assert info.value.message == "variables.V20 expands to more than 1 MiB"
    assert info.value.where == "bake.toml:22"


def test_a_chain_of_variables_deeper_than_the_limit_is_an_error() -> None:
    # Declared last first, so that resolving the first walks the whole chain.
    lines = ["[variables]", *(f'C{i} = "${{C{i - 1}}}"' for i in range(500, 0, -1)), 'C0 = "x"']
    with pytest.raises(ConfigError) as info:
        load(["\n".join(lines) + "\n[target.a]\n"])
    assert (
        info.value.message
        == 'variable "C400" is more than 100 variables deep (each using the next)'
    )
    assert info.value.hint is not None


def test_long_chains_of_inherits_and_nested_groups_need_no_recursion() -> None:
    count = 1500  # well past Python's recursion limit
    inherits = ['[target.t0]\nargs = { A = "1" }\n']
    inherits += [f'[target.t{i}]\ninherits = ["t{i - 1}"]\n' for i in range(1, count)]
    project = load(["".join(inherits)])
    assert dict(project.targets[f"t{count - 1}"].args) == {"A": "1"}
    groups = ["[target.a]\n"]
    groups += [f'[group.g{i}]\ntargets = ["g{i + 1}"]\n' for i in range(count - 1)]
    groups += [f'[group.g{count - 1}]\ntargets = ["a"]\n']
    assert load(["".join(groups)]).select(["g0"]) == ("a",)


def test_values_nested_too_deep_for_the_toml_reader_are_one_error() -> None:
    text = "[target.a]\nargs = " + "{ a = " * 2000 + '"x"' + " }" * 2000 + "\n"
    with pytest.raises(ConfigError) as info:
        load([text])
    assert info.value.message == "invalid TOML: arrays or inline tables nest too deep"
