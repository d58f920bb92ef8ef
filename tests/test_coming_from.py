"""What a user coming from bake or make types first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("docker-bake.hcl", "an HCL bake file (docker buildx bake)"),
        ("docker-bake.json", "a JSON file (docker buildx bake reads those)"),
        ("compose.yaml", "a YAML file (a compose file?)"),
    ],
)
def test_a_bake_file_of_another_tool_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: str
) -> None:
    (tmp_path / name).write_text('target "a" {}\n')
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(tmp_path, "print", "-f", name)
    assert code == 2
    assert err.startswith(f"error: {name}: this is {kind}; bakery reads bake files written in TOML")
    assert "coming-from-bake" in err


@pytest.mark.parametrize(
    ("args", "guess"),
    [
        (["build", "--no-cahce"], '"--no-cache"'),
        (["plan", "--formt", "json"], '"--format"'),
        (["build", "--keep-gong"], '"--keep-going"'),
    ],
)
def test_a_misspelt_flag_gets_a_did_you_mean(tmp_path: Path, args: list[str], guess: str) -> None:
    code, _out, err = run(tmp_path, *args)
    assert code == 2
    assert f"did you mean {guess}?" in err


def test_makes_dry_run_shows_the_plan_and_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch AS a\n")
    (tmp_path / "bake.toml").write_text('[target.a]\ntarget = "a"\n')
    monkeypatch.chdir(tmp_path)
    # No daemon is asked: DOCKER_HOST names nothing.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    code, out, _err = run(tmp_path, "build", "-n")
    assert code == 0
    assert out.startswith("plan: 1 target, 1 stage build")
