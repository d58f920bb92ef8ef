"""``[cache] repo``: where stage images are kept by their stage keys."""

from __future__ import annotations

import pytest

from bakery.core.config import SourceFile, load_project
from bakery.core.errors import ConfigError


def load(*texts: str, env: dict[str, str] | None = None) -> str | None:
    files = [SourceFile(f"bake{i}.toml", text, "/p") for i, text in enumerate(texts)]
    project = load_project(files, env=env or {}, cli_vars={}, builtins={})
    return project.cache_repo


def test_a_repo_with_variables_and_a_later_file_winning() -> None:
    assert load('[target.a]\n[cache]\nrepo = "127.0.0.1:5000/team/cache"\n') == (
        "127.0.0.1:5000/team/cache"
    )
    text = '[variables]\nREG = "reg.example"\n[cache]\nrepo = "${REG}/cache"\n[target.a]\n'
    assert load(text) == "reg.example/cache"
    assert load(text, '[cache]\nrepo = "other.example/c"\n') == "other.example/c"
    assert load("[target.a]\n") is None


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('[cache]\nrepo = "reg.example/cache:tag"\n', "is not a repository", 2),
        ('[cache]\nrepo = "Reg/UPPER"\n', "is not a repository", 2),
        ("[cache]\nrepo = 5\n", "cache.repo must be a string", 2),
        ('[cache]\nrepos = "a/b"\n', 'unknown attribute "repos" in cache; did you mean "repo"?', 2),
        ('cache = "a/b"\n', "cache must be a table [cache]", 1),
    ],
)
def test_errors_name_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        load(text + "[target.a]\n")
    assert message in str(caught.value)
    assert caught.value.where == f"bake0.toml:{line}"
