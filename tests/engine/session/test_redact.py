"""Secret values masked in what a build prints."""

from __future__ import annotations

from bakery.engine.backend import BuildFailed, LogEvent, StepEvent
from bakery.engine.session.redact import MASK, Redactor


def test_every_line_of_a_value_is_masked_in_logs_and_failures() -> None:
    redact = Redactor([b"s3cr3t-token\n", b"-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----\n"])
    assert redact.event(LogEvent("token is s3cr3t-token.", step="x")) == LogEvent(
        f"token is {MASK}.", step="x"
    )
    assert redact.event(LogEvent("AAAABBBB")).text == MASK  # type: ignore[union-attr]
    step = redact.event(StepEvent("[1/2] RUN x", error="bad s3cr3t-token"))
    assert step == StepEvent("[1/2] RUN x", error=f"bad {MASK}")
    failed = redact.failure(
        BuildFailed("exit 1: s3cr3t-token", log_tail=("a", "s3cr3t-token"), hint="h", line=3)
    )
    assert failed.message == f"exit 1: {MASK}"
    assert failed.log_tail == ("a", MASK)
    assert (failed.hint, failed.line) == ("h", 3)


def test_short_values_are_left_alone() -> None:
    redact = Redactor([b"abc", b"\n"])
    assert not redact
    assert redact.text("abc def") == "abc def"


def test_a_value_containing_another_is_masked_whole() -> None:
    redact = Redactor([b"pass", b"password123"])
    assert redact.text("password123 and pass") == f"{MASK} and {MASK}"
