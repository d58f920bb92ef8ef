"""Where the conformance data is, and what its absence means.

BuildKit's parser and lexer corpus and the real-world Dockerfiles live beside
the repository (``../shared/conformance``), not in it; ``BAKERY_CONFORMANCE``
names another folder. Under CI (``CI=true``) missing data fails the run:
without it nothing is proven. Elsewhere (a clone of the repository alone) the
tests that need it are skipped, with one line saying why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = os.environ.get("BAKERY_CONFORMANCE")
CONFORMANCE = (
    Path(_ROOT) if _ROOT else Path(__file__).resolve().parents[2] / "shared" / "conformance"
)


def require(found: object, where: Path) -> None:
    """Fail (under CI) or skip the calling test when ``found`` is None."""
    if found is not None:
        return
    message = (
        f"conformance data not found in {where}: it is ../shared/conformance beside "
        "the repository, or set BAKERY_CONFORMANCE"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
