"""Masking secret values in what a build prints.

A step that prints a secret (``cat /run/secrets/token`` while debugging) must
not put it in the progress output, the report or a CI log. As CI systems
mask theirs, every line of every secret value of the build is replaced with
``****`` in log lines and failure messages; lines shorter than
``MIN_MASKED`` are left alone, as masking every ``a`` would hide the log
rather than the secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from bakery.engine.backend import BuildFailed, LogEvent, ProgressEvent, StepEvent

__all__ = ["MASK", "MIN_MASKED", "Redactor"]

MASK = "****"
MIN_MASKED = 4


class Redactor:
    def __init__(self, values: Iterable[bytes]) -> None:
        parts: set[str] = set()
        for value in values:
            text = value.decode("utf-8", errors="replace")
            for part in (text.strip(), *text.splitlines()):
                if len(part.strip()) >= MIN_MASKED:
                    parts.add(part.strip())
        # Longest first, so that a value containing another is masked whole.
        self.parts = sorted(parts, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def text(self, text: str) -> str:
        for part in self.parts:
            if part in text:
                text = text.replace(part, MASK)
        return text

    def event(self, event: ProgressEvent) -> ProgressEvent:
        if isinstance(event, LogEvent):
            return dataclasses.replace(event, text=self.text(event.text))
        if isinstance(event, StepEvent) and event.error:
            return dataclasses.replace(event, error=self.text(event.error))
        return event

    def failure(self, err: BuildFailed) -> BuildFailed:
        return BuildFailed(
            self.text(err.message),
            step=err.step,
            line=err.line,
            exit_status=err.exit_status,
            log_tail=tuple(self.text(line) for line in err.log_tail),
            where=err.where,
            hint=err.hint,
        )
