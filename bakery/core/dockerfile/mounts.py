"""``RUN --mount=...``: the CSV value read into a ``Mount``, checked as BuildKit checks it.

Keys are the ones BuildKit's instruction layer knows, with their aliases
(``src``, ``dst``, ``ro``, ...); values it would refuse are refused here, with
the nearest valid name. A value holding ``$`` is kept as written and not
checked, as only its expansion can be; ``from`` is the exception, where
BuildKit refuses variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bakery.core.dockerfile.errors import Fail
from bakery.core.dockerfile.model import Mount
from bakery.core.errors import DockerfileError, did_you_mean

__all__ = ["MOUNT_TYPES", "parse_mount"]


MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_MOUNT_KEYS = (
    "type",
    "from",
    "source",
    "src",
    "target",
    "dst",
    "destination",
    "readonly",
    "ro",
    "readwrite",
    "rw",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "env",
)
_SHARING = ("shared", "private", "locked")
_GO_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}
_SIZE = re.compile(r"[0-9]+(\.[0-9]+)* ?[kKmMgGtTpP]?[iI]?[bB]?")  # docker/go-units RAMInBytes


def _csv_fields(value: str) -> list[str]:
    """One CSV record, as Go's encoding/csv reads it (``""`` is a quote inside quotes)."""
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if not value:
        raise Fail("empty value", hint="write --mount=type=TYPE,target=PATH,...")
    fields: list[str] = []
    pos = 0
    while True:
        if not value.startswith('"', pos):
            comma = value.find(",", pos)
            text = value[pos:] if comma < 0 else value[pos:comma]
            if '"' in text:
                raise Fail(f'bare " in field "{text}"', hint='quote the whole field: "key=value"')
            fields.append(text)
            if comma < 0:
                return fields
            pos = comma + 1
            continue
        pos += 1
        text = ""
        while True:
            close = value.find('"', pos)
            if close < 0:
                raise Fail("a quoted field is not closed", hint='end it with "')
            text += value[pos:close]
            pos = close + 1
            if value.startswith('"', pos):  # "" inside quotes is one quote
                text += '"'
                pos += 1
                continue
            break
        fields.append(text)
        if pos == len(value):
            return fields
        if value[pos] != ",":
            raise Fail('extraneous or missing " in quoted field', hint='write "" for a quote')
        pos += 1


def _check_mount_value(key: str, value: str, kind: str) -> None:
    """Raise ``Fail`` unless ``value`` is valid for ``key`` in a mount of type ``kind``."""
    bad = f"invalid value for {key}: {value}"
    if key in ("readonly", "ro", "readwrite", "rw") and value not in _GO_BOOLS:
        raise Fail(bad, hint=f"write {key}=true or {key}=false")
    if key == "required":
        if kind not in ("secret", "ssh"):
            raise Fail(
                f"unexpected key '{key}' for mount type '{kind}'",
                hint="required applies to secret and ssh mounts",
            )
        if value not in _GO_BOOLS:
            raise Fail(bad, hint="write required=true or required=false")
    if key == "size":
        if kind != "tmpfs":
            raise Fail(
                f"unexpected key '{key}' for mount type '{kind}'",
                hint="size applies to tmpfs mounts",
            )
        if not _SIZE.fullmatch(value):
            raise Fail(bad, hint="write a size such as 64m or 1g")
    if key == "sharing" and value.lower() not in _SHARING:
        raise Fail(
            f'unsupported sharing value "{value}"' + did_you_mean(value, _SHARING),
            hint="sharing is shared, private or locked",
        )
    if key in ("uid", "gid", "mode"):
        digits = "[0-7]+" if key == "mode" else "[0-9]+"
        if not re.fullmatch(digits, value) or int(value, 8 if key == "mode" else 10) >= 2**32:
            raise Fail(
                f"invalid value {value} for {key}",
                hint="mode is octal (0755); uid and gid are numbers",
            )


def parse_mount(value: str, *, where: str | None = None) -> Mount:
    """Parse the CSV value of one ``--mount`` flag.

    Keys are case-insensitive; ``type`` defaults to bind. Values are not
    expanded: a value holding ``$`` is kept as written and not checked (except
    ``from``, where BuildKit refuses variables).
    """
    try:
        return _mount(value)
    except Fail as err:
        raise DockerfileError(
            f"--mount={value}: {err.message}", where=where, hint=err.hint
        ) from None


def _mount(value: str) -> Mount:
    kind = "bind"
    source = target = from_ = None
    options: dict[str, str] = {}
    for item in _csv_fields(value):
        key, sep, val = item.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro", "readwrite", "rw"):
                options[key] = ""
                continue
            if key == "required":
                _check_mount_value(key, "true", kind)
                options[key] = ""
                continue
            raise Fail(
                f"invalid field '{item}' must be a key=value pair",
                hint="write key=value; fields are separated by commas",
            )
        options[key] = val
        if key == "from" and "$" in val[:-1]:
            raise Fail(
                "'from' doesn't support variable expansion, define alias stage instead",
                hint="add FROM ${VAR} AS name and mount from=name",
            )
        if key not in _MOUNT_KEYS:
            raise Fail(
                f"unexpected key '{key}' in '{item}'" + did_you_mean(key, _MOUNT_KEYS),
                hint="keys are " + ", ".join(_MOUNT_KEYS),
            )
        checked = "$" not in val
        if key == "type":
            kind = val.lower() if checked else val  # lower-casing $t would rename the variable
            if checked and kind not in MOUNT_TYPES:
                raise Fail(
                    f'unsupported mount type "{val}"' + did_you_mean(kind, MOUNT_TYPES),
                    hint="types are " + ", ".join(MOUNT_TYPES),
                )
        elif key == "from":
            from_ = val
        elif key in ("source", "src"):
            source = val
        elif key in ("target", "dst", "destination"):
            target = val
        elif checked and "$" not in kind:
            _check_mount_value(key, val, kind)
    if "$" not in kind:
        _check_mount(kind, options, source=source, target=target, from_=from_)
    return Mount(type=kind, source=source, target=target, from_=from_, options=options)


def _check_mount(
    kind: str,
    options: Mapping[str, str],
    *,
    source: str | None,
    target: str | None,
    from_: str | None,
) -> None:
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if key in options:
                raise Fail(
                    f'{key} not allowed for "{kind}" type mounts',
                    hint=f"{key} applies to cache, secret and ssh mounts",
                )
    if "sharing" in options and kind != "cache":
        raise Fail(
            f"invalid cache sharing set for {kind} mount", hint="sharing applies to cache mounts"
        )
    if kind == "secret":
        if from_:
            raise Fail("secret mount should not have a from", hint="remove from=")
        if not source and not target and not options.get("id"):
            raise Fail(
                "invalid secret mount. one of source, target required",
                hint="write --mount=type=secret,id=NAME",
            )
        if source and options.get("id"):
            raise Fail("both source and id can't be set", hint="keep id=")
