"""bakery.core.dockerfile against BuildKit's own parser test data, read in place.

Every ``parser/testfiles/NAME/Dockerfile`` must dump exactly to its ``result``
(the format is described in shared/conformance/buildkit/NOTICE.md), and every
``parser/testfiles-negative/NAME/Dockerfile`` must be rejected. The data lives
outside the repository; ``BAKERY_CONFORMANCE`` may point at another
``conformance`` directory. Missing data fails under CI and is skipped elsewhere
(``tests/conformance.py``).
"""

from pathlib import Path
from typing import Any

import pytest

from bakery.core.dockerfile import dump, parse_dockerfile
from bakery.core.errors import DockerfileError
from tests.conformance import CONFORMANCE, require

PARSER_DATA = CONFORMANCE / "buildkit" / "parser"
POSITIVE_CASES = 33  # at BuildKit commit 73ed6825 (see NOTICE.md)
NEGATIVE_CASES = 4


def _cases(kind: str) -> list[Any]:
    folder = PARSER_DATA / kind
    if not folder.is_dir():
        return [pytest.param(None, id=f"{kind}:missing")]
    return [pytest.param(d, id=d.name) for d in sorted(folder.iterdir()) if d.is_dir()]


POSITIVE = _cases("testfiles")
NEGATIVE = _cases("testfiles-negative")


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would hide \r from the parser.
    return path.read_bytes().decode("utf-8")


def _require(case: Path | None) -> Path:
    require(case, PARSER_DATA)
    assert case is not None
    return case


@pytest.mark.parametrize("case", POSITIVE)
def test_dump_matches_reference(case: Path | None) -> None:
    case = _require(case)
    parsed = parse_dockerfile(_read(case / "Dockerfile"), name=f"{case.name}/Dockerfile")
    assert dump(parsed) == _read(case / "result")


@pytest.mark.parametrize("case", NEGATIVE)
def test_rejected_like_reference(case: Path | None) -> None:
    case = _require(case)
    name = f"{case.name}/Dockerfile"
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile(_read(case / "Dockerfile"), name=name)
    assert caught.value.where is not None
    assert caught.value.where.startswith(name)


def test_every_case_was_read() -> None:
    require(PARSER_DATA if PARSER_DATA.is_dir() else None, PARSER_DATA)
    assert len([c for c in POSITIVE if c.values[0] is not None]) == POSITIVE_CASES
    assert len([c for c in NEGATIVE if c.values[0] is not None]) == NEGATIVE_CASES
