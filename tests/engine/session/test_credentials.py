"""Registry credentials, looked up as the docker CLI looks them up."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from bakery.engine.session.credentials import (
    DOCKER_HUB_KEY,
    Credentials,
    DockerConfig,
    HelperFailed,
    config_folder,
    run_helper,
)


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_an_auths_entry_by_host() -> None:
    config = DockerConfig({"auths": {"127.0.0.1:5055": {"auth": auth("alice", "pa:ss")}}})
    assert config.credentials("127.0.0.1:5055") == Credentials("alice", "pa:ss")
    assert config.credentials("127.0.0.1:5056") is None


def test_an_auths_key_written_as_a_url() -> None:
    config = DockerConfig({"auths": {"https://reg.example:5000/v1/": {"auth": auth("a", "b")}}})
    assert config.credentials("reg.example:5000") == Credentials("a", "b")


def test_docker_hub_is_found_under_its_historical_key() -> None:
    config = DockerConfig({"auths": {DOCKER_HUB_KEY: {"auth": auth("hubuser", "x")}}})
    assert config.credentials("registry-1.docker.io") == Credentials("hubuser", "x")


def test_an_identity_token_replaces_user_and_password() -> None:
    config = DockerConfig({"auths": {"reg": {"auth": auth("a", "b"), "identitytoken": "tok"}}})
    assert config.credentials("reg") == Credentials(identity_token="tok")


def test_a_helper_for_the_registry_wins_over_the_store_and_auths() -> None:
    asked: list[tuple[str, str]] = []

    def helper(name: str, server: str) -> Credentials | None:
        asked.append((name, server))
        return Credentials(name, "from-helper")

    config = DockerConfig(
        {
            "credHelpers": {"ghcr.io": "gh"},
            "credsStore": "desktop",
            "auths": {"ghcr.io": {"auth": auth("file", "x")}},
        },
        helper=helper,
    )
    assert config.credentials("ghcr.io") == Credentials("gh", "from-helper")
    assert config.credentials("quay.io") == Credentials("desktop", "from-helper")
    assert asked == [("gh", "ghcr.io"), ("desktop", "quay.io")]


def test_a_helper_that_cannot_answer_is_an_error_naming_it() -> None:
    def helper(name: str, server: str) -> Credentials | None:
        raise HelperFailed(f"credential helper docker-credential-{name} is not installed")

    config = DockerConfig(
        {"credsStore": "pass", "auths": {"reg": {"auth": auth("a", "b")}}}, helper=helper
    )
    # As the docker CLI: no silent fallback to the file, which may be stale.
    with pytest.raises(HelperFailed, match="docker-credential-pass"):
        config.credentials("reg")


def test_credentials_never_show_the_secret() -> None:
    shown = repr(Credentials("alice", "s3cret", "tok3n"))
    assert "s3cret" not in shown
    assert "tok3n" not in shown


def test_the_config_folder_follows_docker_config(tmp_path: Path) -> None:
    assert config_folder({"DOCKER_CONFIG": str(tmp_path)}) == tmp_path
    assert config_folder({"HOME": "/home/u"}) == Path("/home/u/.docker")


def test_load_reads_config_json_and_tolerates_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r": {"auth": auth("u", "p")}}}))
    assert DockerConfig.load({"DOCKER_CONFIG": str(tmp_path)}).credentials("r") == Credentials(
        "u", "p"
    )
    (tmp_path / "config.json").write_text("{not json")
    warnings: list[str] = []
    broken = DockerConfig.load({"DOCKER_CONFIG": str(tmp_path)}, warn=warnings.append)
    assert broken.credentials("r") is None
    assert len(warnings) == 1
    assert "config.json" in warnings[0]
    assert DockerConfig.load({"DOCKER_CONFIG": str(tmp_path / "none")}).credentials("r") is None


@pytest.fixture
def helper_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker-credential-test`` that knows one server, as the real helpers answer."""
    script = tmp_path / "docker-credential-test"
    script.write_text(
        "#!/bin/sh\n"
        'read server\n[ "$1" = get ] || exit 3\n'
        'case "$server" in\n'
        '  reg.example) echo \'{"ServerURL":"reg.example","Username":"bob","Secret":"pw"}\' ;;\n'
        '  tok.example) echo \'{"ServerURL":"tok.example","Username":"<token>","Secret":"T"}\' ;;\n'
        "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return script


def test_the_helper_protocol(helper_on_path: Path) -> None:
    assert run_helper("test", "reg.example") == Credentials("bob", "pw")
    assert run_helper("test", "tok.example") == Credentials(identity_token="T")
    assert run_helper("test", "other.example") is None
    with pytest.raises(HelperFailed, match="not installed"):
        run_helper("absent", "reg.example")
