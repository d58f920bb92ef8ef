"""Reading what the pure core needs from the world: bake files, Dockerfiles,
the environment, git and the clock.

The core takes text and mappings; this module gathers them, so that the CLI
and the engine read files the same way. Nothing here builds or prints.
"""

from __future__ import annotations

import os
import platform as host_platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakery.core.config import Project, SourceFile, Target, load_project
from bakery.core.dockerfile import Dockerfile, parse_dockerfile
from bakery.core.errors import BakeryError, ConfigError
from bakery.core.stages import Platform, StageGraph, read_stages
from bakery.files import read_regular, write_atomically

DEFAULT_FILES = ("bake.toml", "bake.override.toml")
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_platform_name() -> str:
    """The platform of this machine, as Docker names it (``linux/amd64``)."""
    return f"linux/{_ARCH.get(host_platform.machine(), host_platform.machine())}"


def read_bake_files(names: Sequence[str], cwd: Path) -> list[SourceFile]:
    """The bake files named by ``-f`` or, without, bake.toml and bake.override.toml."""
    if names:
        paths = [(n, cwd / n) for n in names]
        missing = [n for n, p in paths if not p.exists()]
        if missing:
            raise ConfigError(
                f"bake file not found: {missing[0]}",
                where=missing[0],
                hint="check the path given to -f",
            )
    else:
        # exists, not is_file: a bake.toml that is a FIFO or a folder gets its own error.
        paths = [(n, cwd / n) for n in DEFAULT_FILES if (cwd / n).exists()]
        if not paths:
            raise ConfigError(
                "no bake.toml in this folder",
                where=str(cwd),
                hint="run bakery in the folder of your bake.toml, pass -f FILE, "
                "or write one with `bakery init`",
            )
    files = []
    for shown, path in paths:
        kind = _OTHER_FORMATS.get(path.suffix.lower())
        if kind is not None:
            raise ConfigError(
                f"this is {kind}; bakery reads bake files written in TOML",
                where=shown,
                hint="write it as a bake.toml, with the same targets and attributes: "
                "docs/coming-from-bake.md shows the translation",
            )
        try:
            text = read_regular(path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read {shown}: {err}", where=shown) from None
        files.append(SourceFile(path=shown, text=text, base_dir=str(path.resolve().parent)))
    return files


# Bake files of other tools, by how their names end.
_OTHER_FORMATS = {
    ".hcl": "an HCL bake file (docker buildx bake)",
    ".json": "a JSON file (docker buildx bake reads those)",
    ".yml": "a YAML file (a compose file?)",
    ".yaml": "a YAML file (a compose file?)",
}


def git_variables(folder: Path) -> dict[str, str]:
    """GIT_SHA, GIT_SHORT_SHA, GIT_BRANCH and GIT_TAG where ``folder`` is in a git work tree."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if not sha:
        return {}
    branch = git("rev-parse", "--abbrev-ref", "HEAD") or ""
    tags = (git("tag", "--points-at", "HEAD") or "").split()
    return {
        "GIT_SHA": sha,
        "GIT_SHORT_SHA": sha[:7],
        "GIT_BRANCH": "" if branch == "HEAD" else branch,
        "GIT_TAG": sorted(tags)[-1] if tags else "",
    }


def builtin_variables(folder: Path) -> dict[str, str]:
    return {**git_variables(folder), "TIMESTAMP": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}


def load(
    file_names: Sequence[str],
    *,
    cwd: Path,
    cli_vars: Mapping[str, str],
    sets: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> Project:
    """Read and resolve the bake files."""
    files = read_bake_files(file_names, cwd)
    folder = Path(files[0].base_dir)
    return load_project(
        files,
        env=dict(os.environ) if env is None else env,
        cli_vars=cli_vars,
        builtins=builtin_variables(folder),
        sets=sets,
        cwd=str(cwd),
    )


@dataclass
class DockerfileCache:
    """Reads each Dockerfile once and each stage graph once per (file, args, platform)."""

    host: str = field(default_factory=host_platform_name)
    _files: dict[str, Dockerfile] = field(default_factory=dict)
    _graphs: dict[tuple[object, ...], StageGraph] = field(default_factory=dict)

    def dockerfile(self, target: Target) -> Dockerfile:
        if target.dockerfile_inline is not None:
            key = "inline:" + target.name
            if key not in self._files:
                self._files[key] = parse_dockerfile(
                    target.dockerfile_inline, name=f"target.{target.name}.dockerfile-inline"
                )
            return self._files[key]
        path = target.dockerfile
        if path not in self._files:
            shown = os.path.relpath(path) if os.path.isabs(path) else path
            try:
                text = read_regular(path).decode("utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    f"Dockerfile not found: {shown}",
                    where=f"target.{target.name}",
                    hint="check its context and dockerfile attributes",
                ) from None
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(
                    f"cannot read {shown}: {err}", where=f"target.{target.name}"
                ) from None
            self._files[path] = parse_dockerfile(text, name=shown)
        return self._files[path]

    def graph(self, target: Target) -> StageGraph:
        key = (
            target.dockerfile_inline or target.dockerfile,
            tuple(sorted(target.args.items())),
            target.platform,
            tuple(sorted(target.contexts)),
        )
        if key not in self._graphs:
            try:
                self._graphs[key] = read_stages(
                    self.dockerfile(target),
                    build_args=target.args,
                    platform=Platform(build=self.host, target=target.platform),
                    contexts=tuple(target.contexts),
                )
            except BakeryError as err:
                if err.where is None:
                    err.where = f"target.{target.name}"
                raise
        return self._graphs[key]


def write_text_atomically(path: Path, text: str) -> None:
    """Replace the bake file ``path`` with ``text`` as ``write_atomically`` does
    (the link, mode, owner and CRLF line endings kept); a failure is a ``ConfigError``."""
    try:
        write_atomically(path, text)
    except OSError as err:
        raise ConfigError(
            f"cannot write {path}: {err.strerror}",
            where=str(path),
            hint="check that the file and its folder are writable",
        ) from None
