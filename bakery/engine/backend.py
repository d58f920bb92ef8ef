"""What a build backend is: one blocking call that builds one image.

A backend knows how to talk to one daemon's builder (BuildKit or the classic
builder). It builds exactly the Dockerfile it is given, tags the result, and
reports progress through a callback. It knows nothing of plans, targets or
trio: the runner calls ``build`` in a worker thread and cancels it through a
``Cancellation``, which closes the connection so that the daemon stops work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bakery.core.config.secrets import SecretSource, SshSource
from bakery.core.errors import BakeryError, Outcome
from bakery.engine.tar_stream import TarStream


@dataclass(frozen=True)
class BuildSpec:
    """One image build.

    ``context`` is an uncompressed tar (GNU or USTAR format: BuildKit misreads
    PAX) holding the build context and the Dockerfile at ``dockerfile``.
    """

    context: bytes | TarStream  # a stream is made while it is sent
    tag: str
    dockerfile: str = "Dockerfile"
    target: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    network: str | None = None
    extra_hosts: Mapping[str, str] = field(default_factory=dict)
    shm_size: int | None = None
    no_cache: bool = False
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    # BuildKit only: what the build's session serves, and its id once open.
    secrets: tuple[SecretSource, ...] = ()
    ssh: tuple[SshSource, ...] = ()
    session: str | None = None


@dataclass(frozen=True)
class StepEvent:
    """A build step (a BuildKit vertex or a classic ``Step N/M``) changed state."""

    name: str  # as the builder names it, e.g. "[2/3] RUN make"
    started: bool = False
    completed: bool = False
    cached: bool = False
    error: str | None = None


@dataclass(frozen=True)
class LogEvent:
    """Output of a running step, one or more lines (no trailing newline)."""

    text: str
    step: str | None = None


ProgressEvent = StepEvent | LogEvent
Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class BuildOutput:
    image_id: str  # "sha256:..."


class BuildFailed(BakeryError):
    """The daemon reported a failed build (a RUN exited non-zero, a file was missing...)."""

    outcome = Outcome.FAILED

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        line: int | None = None,
        exit_status: int | None = None,
        log_tail: tuple[str, ...] = (),
        where: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, where=where, hint=hint)
        self.step = step
        self.line = line  # 1-based line of the Dockerfile that was sent, when known
        self.exit_status = exit_status
        self.log_tail = log_tail


class BuildCancelled(Exception):
    """The build was cancelled through its ``Cancellation`` (not an error of the user's)."""


class DaemonUnreachable(BakeryError):
    """No Docker daemon answers where bakery looked."""

    outcome = Outcome.FAILED


class Cancellation:
    """Thread-safe cancel signal: ``cancel()`` runs every registered closer once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._closers: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def on_cancel(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._cancelled:
                self._closers.append(closer)
                return
        closer()

    def cancel(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            closers, self._closers = self._closers, []
        for closer in closers:
            # Closing an already dead socket must not mask the cancel.
            with contextlib.suppress(Exception):
                closer()


class Backend(Protocol):
    """A builder on one daemon."""

    name: str  # "buildkit" or "classic"

    def build(self, spec: BuildSpec, progress: Progress, cancel: Cancellation) -> BuildOutput:
        """Build and tag ``spec``; blocking. Raises BuildFailed, BuildCancelled or
        DaemonUnreachable."""
        ...
