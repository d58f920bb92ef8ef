"""``secret`` and ``ssh``: read as bake writes them, shown without values, and
in the plan by id only."""

from __future__ import annotations

import pytest

from bakery.core.config.secrets import SecretSource, SshSource, parse_secret, parse_ssh
from bakery.core.errors import ConfigError
from tests.core.test_plan import plan_of, project


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id=npmrc,src=.npmrc", SecretSource("npmrc", src="/p/.npmrc")),
        ("id=npmrc,source=/etc/npmrc", SecretSource("npmrc", src="/etc/npmrc")),
        ("id=token,env=GH_TOKEN", SecretSource("token", env="GH_TOKEN")),
        ("type=env,id=TOKEN", SecretSource("TOKEN", env="TOKEN")),
        ("type=env,id=t,src=GH_TOKEN", SecretSource("t", env="GH_TOKEN")),
        ("type=file,id=f", SecretSource("f", src="/p/f")),
        (" id = a , src = x ", SecretSource("a", src="/p/x")),
        ("id=X", SecretSource("X", src="/p/X", fallback=True)),
    ],
)
def test_secret_forms(text: str, expected: SecretSource) -> None:
    assert parse_secret(text, "/p", where="bake.toml:3", key="target.a.secret") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("src=.npmrc", "needs an id"),
        ("id=a,src=x,env=Y", "not both"),
        ("id=a,path=x", 'unknown secret option "path"'),
        ("id=a,type=vault", 'unknown secret type "vault"'),
        ("id=a,id=b", '"id" given twice'),
        ("npmrc", "is not KEY=VALUE"),
        ("id=a,env=", "env is empty"),
    ],
)
def test_secret_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_secret(text, "/p", where="bake.toml:3", key="target.a.secret")
    assert caught.value.where == "bake.toml:3"
    assert caught.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", SshSource("default")),
        ("deploy=keys/deploy", SshSource("deploy", ("/p/keys/deploy",))),
        ("git=/a.sock", SshSource("git", ("/a.sock",))),
        ("two=k1,k2", SshSource("two", ("/p/k1", "/p/k2"))),
        ("id=deploy,src=keys/deploy", SshSource("deploy", ("/p/keys/deploy",))),
        ("id=default", SshSource("default")),
    ],
)
def test_ssh_forms(text: str, expected: SshSource) -> None:
    assert parse_ssh(text, "/p", where="bake.toml:4", key="target.a.ssh") == expected


@pytest.mark.parametrize("text", ["", "=x", "id=", "id=a,path=b"])
def test_ssh_errors(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ssh(text, "/p", where="bake.toml:4", key="target.a.ssh")
    assert caught.value.where == "bake.toml:4"


def test_print_shows_ids_and_sources_never_values() -> None:
    proj = project(
        '[target.a]\nsecret = ["id=npmrc,src=.npmrc", "id=token,env=GH_TOKEN", "id=X"]\n'
        'ssh = ["default", "id=deploy,src=keys/deploy"]\n'
    )
    shown = proj.targets["a"].to_json()
    assert shown["secret"] == ["id=npmrc,src=/p/.npmrc", "id=token,env=GH_TOKEN", "id=X"]
    assert shown["ssh"] == ["default", "deploy=/p/keys/deploy"]


def test_a_repeated_id_is_an_error_naming_the_line() -> None:
    with pytest.raises(ConfigError, match='secret id "a" twice') as caught:
        project('[target.a]\nsecret = ["id=a,src=x", "id=a,env=Y"]\n')
    assert caught.value.where == "bake.toml:2"


def test_inherited_and_relative_to_the_file() -> None:
    proj = project('[target.base]\nsecret = ["id=a,src=s"]\n[target.app]\ninherits = ["base"]\n')
    assert proj.targets["app"].secrets == (SecretSource("a", src="/p/s"),)


DOCKERFILE = """\
FROM alpine AS base
RUN echo base
FROM base AS app
RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc
FROM base AS plain
RUN echo plain
"""


def nodes_by_stage(toml: str, names: list[str]) -> dict[str, list[frozenset[str]]]:
    plan = plan_of(toml, {"Dockerfile": DOCKERFILE}, names)
    out: dict[str, list[frozenset[str]]] = {}
    for node in plan.nodes.values():
        out.setdefault(node.stage.display_name, []).append(node.targets)
    return out


def test_the_ids_a_stage_mounts_decide_its_node_not_the_sources() -> None:
    toml = """\
[target.a]
target = "app"
secret = ["id=npmrc,src=a.npmrc"]
[target.b]
target = "app"
secret = ["id=npmrc,env=NPMRC", "id=unused,env=X"]
[target.c]
target = "app"
[target.d]
target = "plain"
secret = ["id=npmrc,src=a.npmrc"]
"""
    stages = nodes_by_stage(toml, ["a", "b", "c", "d"])
    # base mounts no secret: one node for all. app mounts npmrc: a and b give it
    # (from other sources: values are not part of a node), c does not.
    assert stages["base"] == [frozenset("abcd")]
    assert sorted(stages["app"], key=len) == [frozenset("c"), frozenset("ab")]


def test_an_ssh_mount_makes_the_agents_part_of_the_node() -> None:
    text = "FROM alpine AS app\nRUN --mount=type=ssh ssh-add -l\nFROM alpine AS other\nRUN true\n"
    toml = """\
[target.a]
target = "app"
ssh = ["default"]
[target.b]
target = "app"
[target.c]
target = "other"
ssh = ["default"]
[target.d]
target = "other"
"""
    plan = plan_of(toml, {"Dockerfile": text}, ["a", "b", "c", "d"])
    groups = sorted(sorted(n.targets) for n in plan.nodes.values())
    assert groups == [["a"], ["b"], ["c", "d"]]
