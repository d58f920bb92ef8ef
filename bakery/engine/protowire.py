"""The protobuf wire format: a small reader and writer, no generated code.

BuildKit's progress traces and the gRPC services of a BuildKit session carry
protobuf messages. The few bakery reads and writes are simple (strings, bytes,
numbers, nested messages), so they are read field by field with ``fields`` and
written with ``encode``. Unknown fields are skipped, so that newer daemons that
add fields still decode; a malformed message raises ``WireError``. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["WireError", "encode", "fields", "integer", "message", "signed", "string"]

VARINT = 0
FIXED64 = 1
BYTES = 2
FIXED32 = 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field number, value)``: an int for varint and fixed fields, bytes
    for length-delimited ones."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise WireError(f"field number 0 at byte {pos}")
        if wire_type == VARINT:
            value, pos = _varint(data, pos)
            yield field, value
        elif wire_type == FIXED64:
            yield field, int.from_bytes(_take(data, pos, 8), "little")
            pos += 8
        elif wire_type == FIXED32:
            yield field, int.from_bytes(_take(data, pos, 4), "little")
            pos += 4
        elif wire_type == BYTES:
            length, pos = _varint(data, pos)
            yield field, _take(data, pos, length)
            pos += length
        else:
            # Groups (3, 4) are deprecated and never used by BuildKit's messages.
            raise WireError(f"unsupported wire type {wire_type} for field {field}")


def encode(items: Iterable[tuple[int, int | str | bytes]]) -> bytes:
    """A message of ``(field number, value)`` pairs: ints as varints (negative ones
    in two's complement), strings as UTF-8, bytes as they are. Pairs with a zero
    or empty value are left out, as proto3 leaves out defaults."""
    out = bytearray()
    for field, value in items:
        if isinstance(value, int):
            if value:
                out += _put_varint(field << 3 | VARINT)
                out += _put_varint(value & (1 << 64) - 1)
            continue
        data = value.encode() if isinstance(value, str) else value
        if data:
            out += _put_varint(field << 3 | BYTES)
            out += _put_varint(len(data))
            out += data
    return bytes(out)


def integer(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise WireError("expected a number, got a length-delimited field")
    return value


def message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise WireError("expected a length-delimited field, got a number")
    return value


def string(value: int | bytes) -> str:
    return message(value).decode("utf-8", errors="replace")


def signed(value: int) -> int:
    """Two's complement for int32/int64 varints (negative ones take 10 bytes)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _take(data: bytes, pos: int, length: int) -> bytes:
    if pos + length > len(data):
        raise WireError(f"field runs past the end of its message ({pos + length} > {len(data)})")
    return data[pos : pos + length]
