"""Where each key is in a bake file's text, for messages that name a line.

Neither TOML reader keeps positions, so this walks the text itself: it knows
just enough of TOML (tables, dotted and quoted keys, strings, arrays, inline
tables) to find keys, and relies on a reader having parsed the text first.
It checks nothing (the readers do): on text it does not expect it stops
and returns what it found, and a message then names the file without a line.
"""

from __future__ import annotations

import bisect
import re

import tomlkit

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line where each key path first appears: ``("target", "client", "tags") -> 7``."""
    return scan_keys(text)[0]


def scan_keys(text: str) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], int]]:
    """Where each key path first appears, and where keys are defined a second time.

    tomlkit keeps no positions, so this walks the text itself. The text is
    valid TOML or nearly (tomlkit parsed it), which keeps the walk short; on
    anything it does not expect it stops and returns what it found.
    """
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    found: dict[tuple[str, ...], int] = {}
    defined: set[tuple[str, ...]] = set()
    again: dict[tuple[str, ...], int] = {}
    n = len(text)

    def record(path: tuple[str, ...], pos: int, *, define: bool = True) -> None:
        line = bisect.bisect_right(starts, pos)
        for k in range(1, len(path) + 1):
            found.setdefault(path[:k], line)
        if define:
            if path in defined:
                again.setdefault(path, line)
            defined.add(path)

    def skip(pos: int, *, newlines: bool) -> int:
        while pos < n:
            c = text[pos]
            if c in " \t\r" or (newlines and c == "\n"):
                pos += 1
            elif newlines and c == "#":
                while pos < n and text[pos] != "\n":
                    pos += 1
            else:
                break
        return pos

    def string_end(pos: int) -> int:
        for quote in ('"""', "'''"):
            if text.startswith(quote, pos):
                pos += 3
                while not text.startswith(quote, pos):
                    # text[pos] first: past the end of the text it raises, and the walk stops.
                    pos += 2 if text[pos] == "\\" and quote == '"""' else 1
                pos += 3
                while pos < n and text[pos] == quote[0]:
                    pos += 1  # up to two quotes may end the content
                return pos
        quote = text[pos]
        pos += 1
        while text[pos] != quote:
            pos += 2 if quote == '"' and text[pos] == "\\" else 1
        return pos + 1

    def key(pos: int) -> tuple[tuple[str, ...], int]:
        parts: list[str] = []
        while True:
            pos = skip(pos, newlines=False)
            if text[pos] in "\"'":
                end = string_end(pos)
                raw = text[pos + 1 : end - 1]
                parts.append(
                    tomlkit.parse(f"k = {text[pos:end]}")["k"].unwrap()
                    if text[pos] == '"' and "\\" in raw
                    else raw
                )
                pos = end
            else:
                match = _BARE_KEY.match(text, pos)
                if not match:
                    raise ValueError(pos)
                parts.append(match.group())
                pos = match.end()
            pos = skip(pos, newlines=False)
            if pos < n and text[pos] == ".":
                pos += 1
                continue
            return tuple(parts), pos

    def value(pos: int, path: tuple[str, ...] | None) -> int:
        c = text[pos]
        if c in "\"'":
            return string_end(pos)
        if c == "[":
            pos = skip(pos + 1, newlines=True)
            while text[pos] != "]":
                pos = skip(value(pos, None), newlines=True)
                if text[pos] == ",":
                    pos = skip(pos + 1, newlines=True)
            return pos + 1
        if c == "{":
            pos = skip(pos + 1, newlines=True)
            while text[pos] != "}":
                start = pos
                parts, pos = key(pos)
                if path is not None:
                    record((*path, *parts), start)
                pos = skip(pos, newlines=False) + 1  # the "="
                pos = skip(
                    value(skip(pos, newlines=False), None if path is None else (*path, *parts)),
                    newlines=True,
                )
                if text[pos] == ",":
                    pos = skip(pos + 1, newlines=True)
            return pos + 1
        end = pos
        while end < n and text[end] not in ",]}\n#":
            end += 1
        if end == pos:
            raise ValueError(pos)  # no value here: an array would wait for it forever
        return end

    table: tuple[str, ...] = ()
    pos = 0
    try:
        while True:
            pos = skip(pos, newlines=True)
            if pos >= n:
                break
            start = pos
            if text[pos] == "[":
                double = text.startswith("[[", pos)
                table, pos = key(pos + (2 if double else 1))
                record(table, start, define=not double)
                pos += 2 if double else 1
            else:
                parts, pos = key(pos)
                record((*table, *parts), start)
                pos = skip(pos, newlines=False) + 1
                pos = value(skip(pos, newlines=False), (*table, *parts))
    except (IndexError, ValueError):
        pass
    return found, again
