"""``secret`` and ``ssh``: what a build may read without it reaching an image.

Written as bake and ``docker build`` write them:

- a secret is ``id=ID[,src=PATH|,env=NAME][,type=file|env]``; ``source`` is
  ``src``'s long name. With neither ``src`` nor ``env``, the environment
  variable named ``ID`` is used when it is set, else the file named ``ID``.
- an SSH agent is ``default`` (the agent of ``SSH_AUTH_SOCK``), ``ID=PATH[,PATH]``
  (an agent socket, or private key files), or ``id=ID[,src=PATH]``.

Only ids and sources are kept here, never a value: reading a secret is the
engine's, at the moment the daemon asks for it. Paths are made absolute
against the folder of the file that wrote them. Pure.
"""

from __future__ import annotations

import os.path
from dataclasses import dataclass

from bakery.core.errors import ConfigError

__all__ = ["SecretSource", "SshSource", "parse_secret", "parse_ssh"]

_ID_HINT = 'write "id=NAME,src=FILE" or "id=NAME,env=VARIABLE"'
_SSH_HINT = 'write "default", "ID=PATH" (an agent socket or key files) or "id=ID,src=PATH"'


@dataclass(frozen=True)
class SecretSource:
    """A secret's id and where its value comes from: an environment variable
    (``env``) or a file (``src``, absolute). ``fallback`` marks the form with
    neither, where the variable named ``id`` wins when set, else the file."""

    id: str
    env: str | None = None
    src: str | None = None
    fallback: bool = False

    def describe(self) -> str:
        """As ``bakery print`` shows it: the id and the source, never the value."""
        if self.fallback:
            return f"id={self.id}"
        if self.env is not None:
            return f"id={self.id},env={self.env}"
        return f"id={self.id},src={self.src}"


@dataclass(frozen=True)
class SshSource:
    """An SSH agent the build may use: ``paths`` empty means ``SSH_AUTH_SOCK``."""

    id: str
    paths: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.id if not self.paths else f"{self.id}={','.join(self.paths)}"


def parse_secret(text: str, base_dir: str, *, where: str | None, key: str) -> SecretSource:
    """One ``secret`` entry. Raises ConfigError naming ``key`` at ``where``."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        name, eq, value = part.strip().partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise ConfigError(
                f'{key}: "{part.strip()}" is not KEY=VALUE', where=where, hint=_ID_HINT
            )
        if name == "source":
            name = "src"
        if name not in ("id", "src", "env", "type"):
            raise ConfigError(f'{key}: unknown secret option "{name}"', where=where, hint=_ID_HINT)
        if name in fields:
            raise ConfigError(f'{key}: "{name}" given twice', where=where, hint=_ID_HINT)
        fields[name] = value.strip()
    kind = fields.pop("type", None)
    if kind not in (None, "file", "env"):
        raise ConfigError(
            f'{key}: unknown secret type "{kind}"', where=where, hint="type is file or env"
        )
    secret_id = fields.get("id", "")
    if not secret_id:
        raise ConfigError(f"{key}: a secret needs an id", where=where, hint=_ID_HINT)
    src, env = fields.get("src"), fields.get("env")
    if kind == "env" and env is None:
        env, src = src or secret_id, None
    if src is not None and env is not None:
        raise ConfigError(
            f"{key}: a secret comes from a file or a variable, not both",
            where=where,
            hint=_ID_HINT,
        )
    if env is not None:
        if not env:
            raise ConfigError(f"{key}: env is empty", where=where, hint=_ID_HINT)
        return SecretSource(secret_id, env=env)
    if kind == "file" or src is not None:
        src = secret_id if src is None else src
        if not src:
            raise ConfigError(f"{key}: src is empty", where=where, hint=_ID_HINT)
        return SecretSource(secret_id, src=_absolute(src, base_dir))
    return SecretSource(secret_id, env=None, src=_absolute(secret_id, base_dir), fallback=True)


def parse_ssh(text: str, base_dir: str, *, where: str | None, key: str) -> SshSource:
    """One ``ssh`` entry. Raises ConfigError naming ``key`` at ``where``."""
    text = text.strip()
    if text.startswith("id="):
        fields: dict[str, str] = {}
        for part in text.split(","):
            name, eq, value = part.strip().partition("=")
            if not eq or name.strip().lower() not in ("id", "src", "source"):
                raise ConfigError(
                    f'{key}: unknown ssh option "{part.strip()}"', where=where, hint=_SSH_HINT
                )
            fields["src" if name.strip().lower() == "source" else name.strip().lower()] = value
        ssh_id, src = fields.get("id", "").strip(), fields.get("src", "").strip()
        paths: tuple[str, ...] = (src,) if src else ()
    else:
        ssh_id, _, rest = text.partition("=")
        ssh_id = ssh_id.strip()
        paths = tuple(p.strip() for p in rest.split(",") if p.strip())
    if not ssh_id or any(c in ssh_id for c in " ,"):
        raise ConfigError(f'{key}: "{text}" names no ssh id', where=where, hint=_SSH_HINT)
    return SshSource(ssh_id, tuple(_absolute(p, base_dir) for p in paths))


def _absolute(path: str, base_dir: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))
