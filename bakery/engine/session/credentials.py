"""Registry credentials, found where the docker CLI finds them.

``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``): a
credential helper named for the registry in ``credHelpers``, else the
``credsStore`` for all registries, else the ``auths`` entry
(``auth``: base64 of ``user:password``, or ``identitytoken``). A helper is the
program ``docker-credential-NAME``: ``get`` with the registry on standard
input answers ``{"Username": ..., "Secret": ...}``; a username of ``<token>``
means the secret is an identity token. Docker Hub is looked up under its
historical key ``https://index.docker.io/v1/``.

No credentials is an answer too (the pull goes anonymous and the registry
decides); so is a config.json that cannot be read, with a warning. A helper
that cannot answer is an error naming it, as with the docker CLI. Nothing
here logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Credentials", "DockerConfig", "config_folder"]

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    """What a registry is told. ``identity_token`` replaces user and password."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"Credentials(username={self.username!r}, ...)"


def config_folder(environ: Mapping[str, str]) -> Path:
    """Where the docker CLI keeps its config: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    folder = environ.get("DOCKER_CONFIG")
    if folder:
        return Path(folder)
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".docker"


Helper = Callable[[str, str], "Credentials | None"]


class DockerConfig:
    """The credentials part of the docker CLI's ``config.json``."""

    def __init__(
        self,
        data: Mapping[str, object],
        *,
        helper: Helper | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._data = data
        self._helper = helper or run_helper
        self._warn = warn or (lambda _message: None)

    @classmethod
    def load(
        cls, environ: Mapping[str, str], *, warn: Callable[[str], None] | None = None
    ) -> DockerConfig:
        """The config of ``environ``; an absent file is an empty config."""
        path = config_folder(environ) / "config.json"
        data: object = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as err:
            if warn:
                warn(f"cannot read {path} ({type(err).__name__}): registries get no credentials")
        return cls(data if isinstance(data, Mapping) else {}, warn=warn)

    def credentials(self, host: str) -> Credentials | None:
        """The credentials for the registry ``host`` (``127.0.0.1:5000``,
        ``registry-1.docker.io``), or None. Raises HelperFailed when the helper
        config.json names cannot answer, as the docker CLI fails then too."""
        key = DOCKER_HUB_KEY if host in _HUB_HOSTS else host
        helpers = self._data.get("credHelpers")
        # By the registry's name, or by its config key (Docker Hub's is a URL).
        helper = (helpers.get(host) or helpers.get(key)) if isinstance(helpers, Mapping) else None
        store = self._data.get("credsStore")
        name = helper if isinstance(helper, str) and helper else store
        if isinstance(name, str) and name:
            found = self._helper(name, key)
            if found is not None:
                return found
        return self._from_auths(key)

    def _from_auths(self, key: str) -> Credentials | None:
        auths = self._data.get("auths")
        if not isinstance(auths, Mapping):
            return None
        entry = auths.get(key)
        if entry is None:
            # Keys may be written with a scheme or a path: https://host/v1/.
            entry = next(
                (v for k, v in auths.items() if isinstance(k, str) and _hostname(k) == key), None
            )
        if not isinstance(entry, Mapping):
            return None
        token = entry.get("identitytoken")
        if isinstance(token, str) and token:
            return Credentials(identity_token=token)
        username, password = entry.get("username"), entry.get("password")
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                username, _, password = base64.b64decode(auth).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                self._warn(f'the "auths" entry for {key} in config.json is not valid base64')
                return None
        if isinstance(username, str) and isinstance(password, str) and (username or password):
            return Credentials(username=username, password=password)
        return None


class HelperFailed(Exception):
    """A credential helper that could not be run or gave no answer bakery can read."""


def run_helper(name: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-NAME`` for ``server``'s credentials (None: it has none)."""
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise HelperFailed(
            f"credential helper {program} (named in config.json) is not installed"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as err:
        raise HelperFailed(f"credential helper {program} failed: {type(err).__name__}") from None
    if done.returncode != 0:
        if "credentials not found" in (done.stdout + done.stderr).lower():
            return None
        raise HelperFailed(f"credential helper {program} exited with status {done.returncode}")
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise HelperFailed(f"credential helper {program} gave an answer that is not JSON") from None
    username = str(answer.get("Username") or "") if isinstance(answer, dict) else ""
    secret = str(answer.get("Secret") or "") if isinstance(answer, dict) else ""
    if username == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(username=username, password=secret) if username or secret else None


def _hostname(key: str) -> str:
    """``https://host:5000/v1/`` → ``host:5000``, as the docker CLI reads auths keys."""
    text = key
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    return text.split("/", 1)[0]
