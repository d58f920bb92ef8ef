"""The CLI without a daemon: errors, exit codes, help, list, print, plan."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from bakery.cli import build_parser, main
from bakery.core.errors import BakeryError

SEED = """\
FROM golang:1.21-alpine AS base
WORKDIR /src
RUN go mod download

FROM base AS build-client
RUN go build ./cmd/client

FROM base AS build-server
RUN go build ./cmd/server

FROM scratch AS client
COPY --from=build-client /bin/client /bin/

FROM scratch AS server
COPY --from=build-server /bin/server /bin/

FROM base AS lint
RUN exit 3
"""

TOML = """\
[variables]
VERSION = "dev"

[group.default]
targets = ["client", "server"]

[target.client]
target = "client"
tags = ["buildme-client:${VERSION}"]
description = "command-line client"

[target.server]
inherits = ["client"]
target = "server"
tags = ["buildme-server:${VERSION}"]
description = "the server"
"""


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_text(SEED)
    (tmp_path / "bake.toml").write_text(TOML)
    monkeypatch.chdir(tmp_path)  # the CLI reads bake.toml from the working folder
    monkeypatch.delenv("VERSION", raising=False)
    return tmp_path


def test_plan_shares_base_and_leaves_out_unused(project: Path) -> None:
    code, out, err = run(project, "plan", "client", "server")
    assert code == 0, err
    lines = out.splitlines()
    assert sum(1 for line in lines if line.strip().startswith("base ")) == 1
    assert "shared by client, server" in next(li for li in lines if li.strip().startswith("base"))
    assert sum(1 for line in lines if line.strip().startswith("build-client")) == 1
    assert sum(1 for line in lines if line.strip().startswith("build-server")) == 1
    assert "lint" not in out
    assert "external images: golang:1.21-alpine" in out


def test_plan_json(project: Path) -> None:
    code, out, _ = run(project, "plan", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    stages = sorted(n["stage"] for n in doc["nodes"])
    assert stages == ["base", "build-client", "build-server", "client", "server"]
    shared = [n for n in doc["nodes"] if n["shared"]]
    assert [(n["stage"], n["targets"]) for n in shared] == [("base", ["client", "server"])]
    assert len(doc["waves"]) == 3


def test_print_expands_and_inherits(project: Path) -> None:
    code, out, _ = run(project, "print", "--var", "VERSION=1.2.3")
    assert code == 0
    doc = json.loads(out)
    assert doc["target"]["server"]["tags"] == ["buildme-server:1.2.3"]
    assert doc["target"]["server"]["description"] == "the server"
    assert doc["target"]["server"]["target"] == "server"


def test_list(project: Path) -> None:
    code, out, _ = run(project, "list")
    assert code == 0
    assert "  client   command-line client\n" in out
    assert "default" in out


COMMANDS = ["build", "plan", "print", "list", "push", "prune", "init", "var"]

ERRORS = {
    "unknown-target": (
        ["plan", "clinet"],
        ('unknown target or group "clinet"; did you mean "client"?'),
    ),
    "unknown-stage": (
        ["plan", "--set", "client.target=clinet"],
        'stage "clinet" is not in Dockerfile; did you mean "client"?',
    ),
    "bad-var": (["print", "--var", "VERSION"], "VERSION"),
    "bad-flag": (["build", "--jobs", "0"], "must be at least 1"),
    "unknown-command": (["bild"], "invalid choice"),
}


@pytest.mark.parametrize(("args", "message"), list(ERRORS.values()), ids=list(ERRORS))
def test_errors_exit_2_with_one_message_and_no_traceback(
    project: Path,
    args: list[str],
    message: str,
) -> None:
    code, _out, err = run(project, *args)
    assert code == 2
    assert message in err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert "hint: " in err


def test_missing_bake_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(tmp_path, "list")
    assert code == 2
    assert "no bake.toml in this folder" in err


def test_broken_dockerfile_names_file_and_line(project: Path) -> None:
    (project / "Dockerfile").write_text("FROM alpine AS base\nRUNN echo\n")
    (project / "bake.toml").write_text("[target.app]\n")
    code, _, err = run(project, "plan")
    assert code == 2
    assert "Dockerfile:2" in err
    assert 'did you mean "RUN"?' in err or "did you mean" in err


def subcommand(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = cast(dict[str, argparse.ArgumentParser], sub.choices)
    return choices[command]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_complete_help(command: str) -> None:
    parser = build_parser()
    sub = subcommand(parser, command)
    text = sub.format_help()
    assert "usage: bakery " + command in text
    for action in sub._actions:
        if action.help is None:
            pytest.fail(f"{command}: option {action.option_strings or action.dest} has no help")


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_reference_documents_every_option(command: str) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    assert f"## `bakery {command}" in doc
    parser = build_parser()
    for action in subcommand(parser, command)._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert f"`{flag}" in doc, f"docs/cli.md does not document {command} {flag}"


def test_var_set_changes_the_file_in_place(project: Path) -> None:
    code, out, err = run(project, "var", "set", "VERSION", "2.0.0")
    assert code == 0, err
    text = (project / "bake.toml").read_text()
    assert text == TOML.replace('VERSION = "dev"', 'VERSION = "2.0.0"')
    code, out, _ = run(project, "print", "server")
    assert json.loads(out)["target"]["server"]["tags"] == ["buildme-server:2.0.0"]


def test_var_set_keeps_a_symlink_the_mode_and_crlf(project: Path) -> None:
    real = project / "config" / "real.toml"
    real.parent.mkdir()
    real.write_bytes(TOML.replace("\n", "\r\n").encode())
    real.chmod(0o640)
    (project / "bake.toml").unlink()
    (project / "bake.toml").symlink_to("config/real.toml")
    code, _, err = run(project, "var", "set", "VERSION", "2.0.0")
    assert code == 0, err
    assert (project / "bake.toml").is_symlink()
    data = real.read_bytes()
    assert (
        data == TOML.replace('VERSION = "dev"', 'VERSION = "2.0.0"').replace("\n", "\r\n").encode()
    )
    assert real.stat().st_mode & 0o777 == 0o640
    assert not [p.name for p in real.parent.iterdir() if p.name != "real.toml"]


def test_var_set_that_cannot_write_is_one_error(project: Path) -> None:
    # The new text goes to a file beside bake.toml first: make that impossible
    # (a folder in its place), whoever runs the test.
    before = (project / "bake.toml").read_text()
    (project / f".bake.toml.{os.getpid()}.tmp").mkdir()
    code, _, err = run(project, "var", "set", "VERSION", "2.0.0")
    assert code == 2
    assert err.startswith("error: bake.toml: cannot write bake.toml: Is a directory"), err
    assert "Traceback" not in err
    assert (project / "bake.toml").read_text() == before


def test_var_set_without_a_bake_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(tmp_path, "var", "set", "A", "1")
    assert code == 2
    assert err.startswith("error: bake.toml: no bake.toml here")


def test_init_writes_then_completes_a_bake_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(SEED)
    code, out, err = run(tmp_path, "init")
    assert code == 0, err
    assert "targets added: client, server, lint" in out
    code, out, _ = run(tmp_path, "list")
    assert out.split("groups:")[0].split() == ["targets:", "client", "server", "lint"]
    # Hand edits survive a second init, which finds nothing to add.
    path = tmp_path / "bake.toml"
    path.write_text(
        path.read_text().replace('tags = ["lint:latest"]', 'tags = ["lint:latest"]  # mine')
    )
    before = path.read_text()
    code, out, _ = run(tmp_path, "init")
    assert code == 0
    assert "targets added: none" in out
    assert path.read_text() == before


def test_init_of_a_missing_dockerfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(tmp_path, "init", "nope.Dockerfile")
    assert code == 2
    assert err.startswith("error: nope.Dockerfile: cannot read nope.Dockerfile")


@pytest.mark.parametrize(
    "args", [["--help"], ["list"], ["print"], ["plan"]], ids=["help", "list", "print", "plan"]
)
def test_commands_without_a_daemon_import_no_docker_trio_or_rich(
    project: Path,
    args: list[str],
) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from bakery.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'trio', 'rich'))\n"
        "print(','.join(heavy), file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    assert out.stderr.strip() == ""


def test_init_into_another_folder_writes_paths_from_that_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(SEED)
    (tmp_path / "deploy").mkdir()
    code, _, err = run(tmp_path, "init", "-f", "deploy/bake.toml")
    assert code == 0, err
    code, out, err = run(tmp_path, "plan", "-f", "deploy/bake.toml", "client")
    assert code == 0, err
    assert "base" in out


# -- exit codes ----------------------------------------------------------------------


def _errors() -> list[tuple[BakeryError, int]]:
    from bakery.core.errors import ConfigError, CycleError, DockerfileError
    from bakery.core.ignore import IgnoreError
    from bakery.core.shell import ShellError
    from bakery.engine.backend import BuildFailed, DaemonUnreachable
    from bakery.engine.context import ContextChanged
    from bakery.engine.push import PushFailed

    return [
        (ConfigError("x"), 2),
        (CycleError("inherits", ["a", "a"]), 2),
        (DockerfileError("x"), 2),
        (IgnoreError("x"), 2),
        (ShellError("x"), 2),
        (BuildFailed("x"), 1),
        (DaemonUnreachable("x"), 1),
        (ContextChanged("x"), 1),
        (PushFailed("x"), 1),
    ]


@pytest.mark.parametrize(
    ("error", "code"),
    _errors(),
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_each_kind_of_error_has_its_documented_exit_code(error: BakeryError, code: int) -> None:
    assert error.exit_code == code


def test_the_documented_exit_codes_are_the_table() -> None:
    from bakery.core.errors import EXIT_CODES, Outcome

    root = Path(__file__).resolve().parents[1]
    assert {o: EXIT_CODES[o] for o in Outcome} == {
        Outcome.OK: 0,
        Outcome.FAILED: 1,
        Outcome.USAGE: 2,
        Outcome.INTERRUPTED: 130,
        Outcome.TERMINATED: 143,
        Outcome.HUNG_UP: 129,
        Outcome.OUTPUT_CLOSED: 141,
    }
    reference = (root / "docs" / "cli.md").read_text()
    readme = " ".join((root / "README.md").read_text().split())
    help_text = " ".join(build_parser().format_help().split())
    for outcome, code in EXIT_CODES.items():
        assert f"\n| {code} | " in reference, outcome
        assert f"{code} {outcome.value.split()[0]}" in readme, outcome
        assert f"{code} {outcome.value}" in help_text, outcome


@pytest.mark.parametrize("command", ["plan", "print", "build", "push"])
def test_an_empty_default_group_is_one_error_before_anything_runs(
    project: Path, command: str
) -> None:
    text = TOML.replace('targets = ["client", "server"]', "targets = []")
    (project / "bake.toml").write_text(text)
    code, out, err = run(project, command)
    assert code == 2, err
    assert err.startswith('error: group.default: group "default" has no targets\n'), err
    assert "Traceback" not in err
    assert out == ""


def test_output_closed_early_is_quiet(tmp_path: Path) -> None:
    # Enough output that it cannot all sit in the pipe before the reader goes.
    (tmp_path / "Dockerfile").write_text("FROM scratch AS a\n")
    (tmp_path / "bake.toml").write_text(
        "".join(f'[target.t{i}]\ntarget = "a"\ntags = ["t{i}"]\n' for i in range(600))
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bakery", "print", "all"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.read(10) == b'{\n  "group'
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141, err
    assert err == b""


@pytest.mark.parametrize("which", ["Dockerfile", "bake.toml", "init"])
def test_a_fifo_is_refused_at_once_not_waited_on(project: Path, which: str) -> None:
    name = "Dockerfile" if which == "init" else which
    (project / name).unlink()
    os.mkfifo(project / name)
    command = ["init", "Dockerfile", "-f", "new.toml"] if which == "init" else ["plan"]
    # A subprocess, so that a wait fails the test instead of hanging the suite.
    done = subprocess.run(
        [sys.executable, "-m", "bakery", *command],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "is not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_report_file_that_is_a_folder_fails_before_building(project: Path) -> None:
    (project / "reports").mkdir()
    code, _, err = run(project, "build", "--report-file", "reports")
    assert code == 2, err
    assert err.startswith("error: --report-file: 'reports' is a folder\n"), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--secret", "id=a,env=X", "--secret", "id=a,src=f"], 'the id "a" is given twice'),
        (["--secret", "token"], '"token" is not KEY=VALUE'),
        (["--ssh", "default", "--ssh", "default"], 'the id "default" is given twice'),
    ],
)
def test_bad_secret_and_ssh_flags_are_usage_errors(
    project: Path, args: list[str], message: str
) -> None:
    code, _out, err = run(project, "build", *args)
    assert code == 2
    assert message in err
    assert err.startswith(("error: --secret", "error: --ssh"))
