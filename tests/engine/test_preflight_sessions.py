"""What is checked of secrets and SSH agents before anything is built."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakery.core.errors import EXIT_CODES, ConfigError
from bakery.core.plan import Plan
from bakery.engine import preflight
from tests.core.test_plan import plan_of

DOCKERFILE = "FROM alpine\nRUN --mount=type=secret,id=t true\n"


def plan(toml: str) -> Plan:
    return plan_of(toml, {"Dockerfile": DOCKERFILE}, ["a"])


def check(toml: str, builder: str = "buildkit", environ: dict[str, str] | None = None) -> None:
    # The context folder of plan_of is /p; the checks of secrets come before it.
    preflight._check_session_sources("a", plan(toml).targets["a"].target, builder, environ or {})


def test_the_classic_builder_refuses_a_secret_naming_the_target() -> None:
    with pytest.raises(ConfigError, match="needs BuildKit") as caught:
        check('[target.a]\nsecret = ["id=t,env=T"]\n', "classic", {"T": "v"})
    assert caught.value.where == "target.a"
    assert EXIT_CODES[caught.value.outcome] == 2
    with pytest.raises(ConfigError, match="ssh needs BuildKit"):
        check('[target.a]\nssh = ["default"]\n', "classic")


def test_an_unset_variable_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the variable T is not set"):
        check('[target.a]\nsecret = ["id=t,env=T"]\n')
    with pytest.raises(ConfigError, match="no file /nowhere/s"):
        check('[target.a]\nsecret = ["id=t,src=/nowhere/s"]\n')
    with pytest.raises(ConfigError, match=f"{tmp_path} is not a regular file"):
        check(f'[target.a]\nsecret = ["id=t,src={tmp_path}"]\n')
    with pytest.raises(ConfigError, match="neither the variable t nor the file /p/t"):
        check('[target.a]\nsecret = ["id=t"]\n')


def test_sources_that_are_there_pass(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("v")
    check(f'[target.a]\nsecret = ["id=t,src={tmp_path / "s"}", "id=u,env=U"]\n', environ={"U": ""})
    check('[target.a]\nsecret = ["id=t"]\n', environ={"t": "v"})


@pytest.fixture
def agent_socket() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="bakery-test-")
    path = os.path.join(folder, "agent.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    yield path
    listener.close()
    os.unlink(path)
    os.rmdir(folder)


def test_the_default_agent_needs_ssh_auth_sock(agent_socket: str) -> None:
    with pytest.raises(ConfigError, match="SSH_AUTH_SOCK is not set") as caught:
        check('[target.a]\nssh = ["default"]\n')
    assert caught.value.hint
    assert "ssh-agent" in caught.value.hint
    with pytest.raises(ConfigError, match="is not a socket"):
        check('[target.a]\nssh = ["default"]\n', environ={"SSH_AUTH_SOCK": "/etc/hostname"})
    check('[target.a]\nssh = ["default"]\n', environ={"SSH_AUTH_SOCK": agent_socket})


def test_a_missing_key_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r'ssh "deploy" of target\.a: there is no /nowhere/k'):
        check('[target.a]\nssh = ["deploy=/nowhere/k"]\n')


def test_a_secret_over_buildkits_bound_is_refused_before_building(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * (600 * 1024))
    with pytest.raises(ConfigError, match=r'secret "t" is 600 KiB, more than the 500 KiB'):
        check(f'[target.a]\nsecret = ["id=t,src={tmp_path / "big"}"]\n')
    with pytest.raises(ConfigError, match="more than the 500 KiB"):
        check('[target.a]\nsecret = ["id=t,env=T"]\n', environ={"T": "x" * (501 * 1024)})
