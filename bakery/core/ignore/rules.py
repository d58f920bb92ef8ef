"""The rules of one ``.dockerignore``: its patterns, read from the file, and the
verdict they give on each path of the context, exactly as Docker does.

The reference is ``github.com/moby/patternmatcher`` (``ignorefile.ReadAll`` reads
the file, ``PatternMatcher`` matches) as BuildKit's context walker
(``tonistiigi/fsutil``, ``filter.go``) drives it; this module agrees with them
rule for rule:

- a line is a comment when it *starts* with ``#`` (before blanks are trimmed);
  a UTF-8 byte order mark on the first line is dropped; blanks around a
  pattern are trimmed;
- ``!`` makes an exception; a pattern is cleaned like Go's ``filepath.Clean``
  (``./a/../b/`` is ``b``) and a leading ``/`` dropped, so a trailing ``/``
  means nothing: ``build/`` excludes a *file* named ``build`` too;
- the last pattern that matches an entry wins; a pattern that matches a
  directory excludes everything under it, unless a later exception matches;
- what a path's parents matched is carried down the walk (``check`` takes the
  parent's ``Verdict``), which is what BuildKit and the docker CLI do and which
  differs from checking every parent afresh in a few corner cases;
- a directory that is excluded is entered only when an exception could
  re-include something under it (``may_contain_included``); when one is, the
  directory itself comes along as a parent of what is re-included.

What one pattern matches (``*``, ``**``, classes, escapes) is ``globs``.

Pure: text in, data out. Only the standard library, ``bakery.core.errors`` and
``globs``. Bad patterns are raised as ``IgnoreError`` naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from bakery.core.errors import ConfigError
from bakery.core.ignore.globs import GLOB_CHARS, BadPattern, MatchKind, compile_pattern

DOCKERIGNORE = ".dockerignore"

# Go's unicode.IsSpace: what strings.TrimSpace removes (str.strip also drops \x1c-\x1f).
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class IgnoreError(ConfigError):
    """A ``.dockerignore`` pattern Docker would reject."""


@dataclass(frozen=True)
class Pattern:
    """One pattern of a ``.dockerignore``, cleaned, with its ``!`` taken off."""

    text: str
    exclusion: bool  # True for "!pattern": an exception that re-includes
    line: int
    kind: MatchKind
    regex: re.Pattern[str] | None

    def matches(self, path: str) -> bool:
        """Whether this pattern, alone, matches ``path`` (parents not considered)."""
        if self.kind is MatchKind.EXACT:
            return path == self.text
        if self.kind is MatchKind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is MatchKind.SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None

    @property
    def literal_prefix(self) -> str | None:
        """The path this pattern names when it has no wildcard once a trailing
        ``/*`` or ``/**`` is taken off (fsutil's walk optimisation), else ``None``."""
        text = self.text.removesuffix("/**").removesuffix("/*")
        return None if GLOB_CHARS.intersection(text) else text

    def __str__(self) -> str:
        return ("!" if self.exclusion else "") + self.text


@dataclass(frozen=True)
class Verdict:
    """What the rules say about one path, and what each pattern matched there
    (patternmatcher's ``MatchInfo``), to pass on to the entries inside it."""

    excluded: bool
    matched: tuple[bool, ...]


@dataclass(frozen=True)
class IgnoreRules:
    """The patterns of one ``.dockerignore``, in order. Empty rules exclude nothing."""

    patterns: tuple[Pattern, ...] = ()

    @property
    def has_exceptions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def check(self, path: str, parent: Verdict | None = None) -> Verdict:
        """The verdict on ``path`` given its parent directory's verdict.

        This is patternmatcher's ``MatchesUsingParentResults``: a pattern that
        matched the parent counts as matched here. With no parent verdict, each
        pattern is also tried against every parent directory of ``path``.
        A walker calls it once per entry, parents first (``parent`` is ``None``
        at the top of the context)."""
        excluded = False
        matched: list[bool] = []
        inherited = parent.matched if parent is not None and parent.matched else None
        for i, pattern in enumerate(self.patterns):
            hit = inherited[i] if inherited is not None else False
            if not hit:
                # Only a pattern that could change the outcome is tried: an exclusion
                # while nothing is excluded yet, an exception once something is.
                if pattern.exclusion != excluded:
                    matched.append(False)
                    continue
                hit = pattern.matches(path)
                if not hit and inherited is None:
                    parts = path.split("/")[:-1]
                    hit = any(pattern.matches("/".join(parts[: n + 1])) for n in range(len(parts)))
            matched.append(hit)
            if hit:
                excluded = not pattern.exclusion
        return Verdict(excluded, tuple(matched))

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Whether Docker leaves ``path`` (slash-separated, relative to the context)
        out of the context.

        ``is_dir`` changes nothing and is accepted for readability at call sites:
        Docker cleans the trailing ``/`` off a pattern, so patterns cannot tell a
        directory from a file. An excluded directory may still be sent as the
        parent of an entry an exception re-includes (see ``may_contain_included``).
        The context root itself is never excluded."""
        del is_dir
        path = clean_path(path).lstrip("/")
        if path in (".", ""):
            return False
        verdict: Verdict | None = None
        parts = path.split("/")
        for n in range(len(parts)):
            verdict = self.check("/".join(parts[: n + 1]), verdict)
        assert verdict is not None
        return verdict.excluded

    def may_contain_included(self, dir_path: str) -> bool:
        """Whether a walker must enter the excluded directory ``dir_path``: some
        exception may re-include an entry under it. ``False`` means everything
        under it is excluded. This is the rule BuildKit's walker applies, so it
        decides what is sent, not merely how fast."""
        exceptions = [p for p in self.patterns if p.exclusion]
        if not exceptions:
            return False
        prefixes = [p.literal_prefix for p in exceptions]
        if any(prefix is None for prefix in prefixes):
            return True  # a wildcard exception could match anywhere below
        dir_slash = clean_path(dir_path).lstrip("/") + "/"
        return any(f"{prefix}/".startswith(dir_slash) for prefix in prefixes if prefix is not None)


def parse_dockerignore(text: str, *, source: str = DOCKERIGNORE) -> IgnoreRules:
    """Read the text of an ignore file; ``source`` names it in errors."""
    patterns: list[Pattern] = []
    for number, line in enumerate(text.split("\n"), start=1):
        # bufio.ScanLines: lines end at \n, and a \r before it is dropped.
        line = line.removesuffix("\r")
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        # ignorefile.ReadAll: trim, split off "!", clean, drop a leading "/".
        raw = line.strip(_GO_SPACE)
        if not raw:
            continue
        invert = raw.startswith("!")
        if invert:
            raw = raw[1:].strip(_GO_SPACE)
        if raw:
            raw = clean_path(raw)
            if len(raw) > 1 and raw.startswith("/"):
                raw = raw[1:]
        if invert:
            raw = "!" + raw
        # patternmatcher.New: clean again (with the "!" on), then split it off.
        pattern_text = clean_path(raw.strip(_GO_SPACE))
        where = f"{source}:{number}"
        exclusion = pattern_text.startswith("!")
        if exclusion:
            if len(pattern_text) == 1:
                raise IgnoreError(
                    'illegal exclusion pattern: "!"',
                    where=where,
                    hint="write the path to re-include after the !, as in !docs/README.md",
                )
            pattern_text = pattern_text[1:]
        try:
            kind, regex = compile_pattern(pattern_text)
        except BadPattern as err:
            raise IgnoreError(
                f"{err} {pattern_text!r}",
                where=where,
                hint=r"escape a literal *, ?, [ or \ with a backslash; close every [ with ]",
            ) from None
        patterns.append(Pattern(pattern_text, exclusion, number, kind, regex))
    return IgnoreRules(tuple(patterns))


def ignore_file_for(dockerfile: str | None, existing: Container[str]) -> str | None:
    """Which ignore file BuildKit reads for a build, as a path relative to the context.

    ``<Dockerfile>.dockerignore`` beside the Dockerfile wins (even when empty),
    then ``.dockerignore`` at the context root; ``None`` when neither is in
    ``existing``. ``dockerfile`` is the Dockerfile's path relative to the context
    (``None`` for an inline Dockerfile)."""
    if dockerfile:
        own = clean_path(f"{dockerfile}.dockerignore")
        if own in existing:
            return own
    return DOCKERIGNORE if DOCKERIGNORE in existing else None


def clean_path(path: str) -> str:
    """Go's ``path.Clean``: one slash between names, no ``.`` names, ``..`` folded
    into the name before it (and dropped at the root), no trailing slash, ``"."``
    for nothing."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append(name)
            continue
        parts.append(name)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."
