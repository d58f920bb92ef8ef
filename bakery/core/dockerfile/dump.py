"""The reference dump: a parsed Dockerfile in the text form BuildKit's parser tests print.

One ``(keyword ["flags"] "arg" ...)`` line per instruction, strings quoted as
Go's ``strconv.Quote`` quotes them. The conformance tests compare it with
BuildKit's ``parser/testfiles/*/result``; nothing else in bakery needs it.
"""

from __future__ import annotations

from bakery.core.dockerfile.model import Dockerfile, Instruction

__all__ = ["dump"]


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # not a valid rune in Go
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _dump_one(ins: Instruction) -> str:
    parts = [ins.keyword]
    if ins.flags:
        parts.append("[" + " ".join(map(_go_quote, ins.flags)) + "]")
    if ins.onbuild is not None:
        parts.append(f"({_dump_one(ins.onbuild)})")
    else:
        parts.extend(map(_go_quote, ins.args))
    return " ".join(parts)


def dump(dockerfile: Dockerfile) -> str:
    """The reference parser's dump format: one ``(keyword ...)`` line per instruction."""
    return "".join(f"({_dump_one(ins)})\n" for ins in dockerfile.instructions)
