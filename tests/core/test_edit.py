"""Editing bake files: values change, comments and layout stay."""

from __future__ import annotations

import pytest

from bakery.core.config import SourceFile, load_project
from bakery.core.dockerfile import parse_dockerfile
from bakery.core.edit import final_stages, init_text, set_variable
from bakery.core.errors import ConfigError
from bakery.core.stages import read_stages

FILE = """\
# release settings
[variables]
VERSION = "dev"    # bumped by the release script
REGISTRY = "localhost:5000"

[target.app]
tags = ["app:${VERSION}"]  # keep me
"""

SET = {
    "change-keeps-comment": ("VERSION", "1.2.3", FILE.replace('"dev"', '"1.2.3"')),
    "add-to-table": (
        "NEW",
        "x",
        FILE.replace('REGISTRY = "localhost:5000"\n', 'REGISTRY = "localhost:5000"\nNEW = "x"\n'),
    ),
    "quotes-escaped": ("REGISTRY", 'a"b', FILE.replace('"localhost:5000"', '"a\\"b"')),
    "create-table-first": ("V", "1", None),
}


@pytest.mark.parametrize(("name", "value", "expected"), list(SET.values()), ids=list(SET))
def test_set_variable(name: str, value: str, expected: str | None) -> None:
    source = FILE if expected is not None else '[target.app]\ntags = ["a"]  # keep\n'
    out = set_variable(source, name, value)
    if expected is not None:
        assert out == expected
    else:
        assert out.lstrip().startswith('[variables]\nV = "1"\n')
        assert '[target.app]\ntags = ["a"]  # keep\n' in out
    project = load_project([SourceFile("bake.toml", out, "/p")], env={}, cli_vars={}, builtins={})
    assert project.variables[name] == value


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1X", '"1X" is not a variable name'),
        ("A-B", '"A-B" is not a variable name'),
    ],
    ids=["digit-first", "dash"],
)
def test_set_variable_rejects_bad_names(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        set_variable(FILE, name, "v")
    assert info.value.message == message
    assert info.value.exit_code == 2


def test_set_variable_on_broken_toml_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        set_variable("[variables]\nA = \n", "A", "v")
    assert info.value.where == "bake.toml:2"


DOCKERFILE = """\
FROM alpine AS base
FROM base AS build
FROM scratch AS app
COPY --from=build /x /x
FROM base AS debug
FROM scratch
COPY --from=build /y /y
"""


def test_final_stages_are_those_nothing_reads() -> None:
    graph = read_stages(parse_dockerfile(DOCKERFILE))
    assert [graph.stages[i].display_name for i in final_stages(graph)] == ["app", "debug", "4"]


def test_init_writes_a_loadable_file_with_one_target_per_final_stage() -> None:
    graph = read_stages(parse_dockerfile(DOCKERFILE))
    text, added = init_text(None, graph, project="My Project")
    assert added == ["app", "debug", "my-project"]
    project = load_project([SourceFile("bake.toml", text, "/p")], env={}, cli_vars={}, builtins={})
    assert project.targets["app"].target == "app"
    assert project.targets["my-project"].target is None  # the last stage
    assert project.targets["debug"].tags == ("debug:latest",)
    assert project.select([]) == ("app", "debug", "my-project")


def test_init_on_an_existing_file_adds_only_missing_targets() -> None:
    graph = read_stages(parse_dockerfile(DOCKERFILE))
    existing = '# mine\n[target.app]\ntarget = "app"  # hand-written\n'
    text, added = init_text(existing, graph, project="p")
    assert added == ["debug", "p"]
    assert text.startswith(existing)


def test_init_names_every_unnamed_final_stage_apart() -> None:
    graph = read_stages(parse_dockerfile("FROM alpine\nRUN a\nFROM busybox\nRUN b\n"))
    text, added = init_text(None, graph, project="svc")
    assert added == ["svc-0", "svc"]
    project = load_project([SourceFile("bake.toml", text, "/p")], env={}, cli_vars={}, builtins={})
    assert project.targets["svc-0"].target == "0"
    assert project.targets["svc"].target is None


def test_init_skips_stages_an_existing_target_builds() -> None:
    graph = read_stages(parse_dockerfile(DOCKERFILE))
    _text, added = init_text('[target.api]\ntarget = "app"\n', graph, project="p")
    assert added == ["debug", "p"]


@pytest.mark.parametrize(
    "existing",
    ['target = { web = { tags = ["w"] } }\n', "target = 1\n", '[[target]]\nname = "x"\n'],
    ids=["inline", "number", "array"],
)
def test_init_refuses_targets_it_cannot_edit(existing: str) -> None:
    graph = read_stages(parse_dockerfile(DOCKERFILE))
    with pytest.raises(ConfigError) as info:
        init_text(existing, graph)
    assert info.value.message == '"target" is not written as [target.NAME] tables'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('variables = { A = "1" }  # c\n', 'variables = { A = "2" }  # c\n'),
        ('variables = { B = "1" }\n', 'variables = { B = "1", A = "2"}\n'),
    ],
    ids=["inline-change", "inline-add"],
)
def test_set_variable_in_an_inline_table(source: str, expected: str) -> None:
    assert set_variable(source, "A", "2") == expected


def test_set_variable_refuses_to_replace_a_table() -> None:
    with pytest.raises(ConfigError) as info:
        set_variable("[variables.A]\nx = 1\n", "A", "2")
    assert info.value.message == '"variables.A" is a table, not a value'
