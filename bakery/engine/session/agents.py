"""The SSH agents a build may use, each a socket path by ssh id.

``default`` with no path is the user's agent (``SSH_AUTH_SOCK``). A path that
is a socket is an agent too. Private key files are loaded into an agent of
bakery's own: OpenSSH's ``ssh-agent``, started for the session on a socket in
a private folder and stopped with it, the keys added with ``ssh-add`` (a key
with a passphrase is refused: nothing may prompt in the middle of a build).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from bakery.core.config.secrets import SshSource
from bakery.core.errors import ConfigError

__all__ = ["AgentError", "ssh_agents"]

AGENT_START_TIMEOUT = 10.0


class AgentError(ConfigError):
    """An ssh source that gives no agent: no SSH_AUTH_SOCK, a missing key file..."""


@dataclass(frozen=True)
class _Private:
    process: subprocess.Popen[bytes]
    socket: str


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def check_sources(sources: Sequence[SshSource], environ: Mapping[str, str], *, where: str) -> None:
    """Raise AgentError for a source that cannot give an agent, before any build."""
    for source in sources:
        if not source.paths:
            path = environ.get("SSH_AUTH_SOCK")
            if not path or not _is_socket(path):
                raise AgentError(
                    f'ssh "{source.id}" of {where} uses your SSH agent, but '
                    + ("SSH_AUTH_SOCK is not set" if not path else f"{path} is not a socket"),
                    hint="start one (eval $(ssh-agent); ssh-add), or give key files: "
                    f"{source.id}=PATH",
                )
            continue
        for path in source.paths:
            if not os.path.exists(path):
                raise AgentError(
                    f'ssh "{source.id}" of {where}: there is no {path}',
                    hint="give an agent socket or private key files",
                )
        if not (len(source.paths) == 1 and _is_socket(source.paths[0])) and not shutil.which(
            "ssh-agent"
        ):
            raise AgentError(
                f'ssh "{source.id}" of {where} gives key files, which need ssh-agent',
                hint="install OpenSSH's client (ssh-agent, ssh-add), or give an agent socket",
            )


@contextlib.contextmanager
def ssh_agents(
    sources: Sequence[SshSource], environ: Mapping[str, str]
) -> Iterator[dict[str, str]]:
    """Socket paths by ssh id, for as long as the block runs. Blocking (it may
    start ``ssh-agent``): run it in a thread. Raises AgentError."""
    agents: dict[str, str] = {}
    private: list[_Private] = []
    folder: str | None = None
    try:
        for source in sources:
            if not source.paths:
                agents[source.id] = environ.get("SSH_AUTH_SOCK", "")
            elif len(source.paths) == 1 and _is_socket(source.paths[0]):
                agents[source.id] = source.paths[0]
            else:
                folder = folder or tempfile.mkdtemp(prefix="bakery-ssh-")
                started = _start_agent(os.path.join(folder, f"agent-{len(private)}.sock"))
                private.append(started)
                _add_keys(started.socket, source, environ)
                agents[source.id] = started.socket
        yield agents
    finally:
        for agent in private:
            agent.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                agent.process.wait(timeout=5)
            if agent.process.poll() is None:
                agent.process.kill()
                agent.process.wait()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _start_agent(path: str) -> _Private:
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    agent = _Private(process, path)
    # -D stays in the foreground; the socket exists once it listens.
    deadline = time.monotonic() + AGENT_START_TIMEOUT
    while not _is_socket(path):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AgentError(
                "ssh-agent did not start", hint="check that OpenSSH's ssh-agent runs here"
            )
        time.sleep(0.01)
    return agent


def _add_keys(socket: str, source: SshSource, environ: Mapping[str, str]) -> None:
    env = {k: v for k, v in environ.items() if not k.startswith("SSH_ASKPASS")}
    env.update({"SSH_AUTH_SOCK": socket, "SSH_ASKPASS_REQUIRE": "never", "DISPLAY": ""})
    done = subprocess.run(
        ["ssh-add", "-q", *source.paths],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=AGENT_START_TIMEOUT,
        check=False,
        start_new_session=True,  # no terminal to ask a passphrase on
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["ssh-add failed"])[-1]
        raise AgentError(
            f'ssh "{source.id}": cannot load {", ".join(source.paths)} ({reason})',
            hint="give unencrypted private keys, or load them into your agent and use default",
        )
