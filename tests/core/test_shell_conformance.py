"""bakery.core.shell against BuildKit's own expansion test data, read in place.

The data lives outside the repository (see shared/conformance/buildkit/NOTICE.md);
``BAKERY_CONFORMANCE`` may point at another ``conformance`` directory. Missing data
fails under CI and is skipped elsewhere (``tests/conformance.py``).
"""

from typing import Any

import pytest

from bakery.core.shell import ShellError, expand, expand_words
from tests.conformance import CONFORMANCE, require

SHELL_DATA = CONFORMANCE / "buildkit" / "shell"

# The environment BuildKit's lex_test.go gives every envVarTest case.
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}
ENV_VAR_TEST_CASES = 228  # the A (all) and U (unix) lines; W (windows) lines are skipped
WORDS_TEST_CASES = 24


def _lines(name: str) -> list[str] | None:
    """The file's lines as Go's bufio.Scanner yields them, or None when it is missing."""
    try:
        text = (SHELL_DATA / name).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _missing(name: str) -> list[Any]:
    return [pytest.param(None, id=f"{name}:missing")]


def _env_var_cases() -> list[Any]:
    lines = _lines("envVarTest")
    if lines is None:
        return _missing("envVarTest")
    cases = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            continue
        platform, source, expected = (part.strip() for part in line.strip().split("|"))
        assert platform in ("A", "U", "W"), f"envVarTest:{number}: bad platform {platform!r}"
        if platform != "W":
            cases.append(pytest.param((source, expected), id=f"envVarTest:{number}"))
    return cases


def _words_cases() -> list[Any]:
    lines = _lines("wordsTest")
    if lines is None:
        return _missing("wordsTest")
    env: dict[str, str] = {}
    cases = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            # Trailing spaces in the value are part of it.
            name, _, value = line[3:].lstrip(" ").partition("=")
            env[name] = value
            continue
        source, expected = line.split("|")
        case = (source.strip(), dict(env), expected.lstrip(" ").split(","))
        cases.append(pytest.param(case, id=f"wordsTest:{number}"))
    return cases


ENV_VAR_CASES = _env_var_cases()
WORDS_CASES = _words_cases()


def _require(case: object) -> None:
    require(case, SHELL_DATA)


@pytest.mark.parametrize("case", ENV_VAR_CASES)
def test_env_var(case: tuple[str, str] | None) -> None:
    _require(case)
    assert case is not None
    source, expected = case
    if expected == "error":
        with pytest.raises(ShellError):
            expand(source, ENV_VAR_TEST_ENV)
    else:
        assert expand(source, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize("case", WORDS_CASES)
def test_words(case: tuple[str, dict[str, str], list[str]] | None) -> None:
    _require(case)
    assert case is not None
    source, env, expected = case
    if expected == ["error"]:
        with pytest.raises(ShellError):
            expand_words(source, env)
    else:
        assert expand_words(source, env) == expected


def test_every_case_was_read() -> None:
    require(SHELL_DATA if SHELL_DATA.is_dir() else None, SHELL_DATA)
    assert len(ENV_VAR_CASES) == ENV_VAR_TEST_CASES
    assert len(WORDS_CASES) == WORDS_TEST_CASES
