"""A small JSON Schema checker, enough for ``bakery.report.formats.SCHEMA``:
type, const, enum, properties, required, additionalProperties, items, minimum
and oneOf. (No new dependency for one schema.)"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``path: problem`` lines."""
    known = {
        "type",
        "const",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minimum",
        "oneOf",
    }
    unknown = set(schema) - known
    assert not unknown, f"the checker does not know {sorted(unknown)}"
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not errors(value, s, path)]
        if len(matching) != 1:
            return [f"{path}: matches {len(matching)} of oneOf, not exactly one"]
        return []
    if "const" in schema and value != schema["const"]:
        return [f"{path}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, k) for k in kinds):
            return [f"{path}: {value!r} is not {' or '.join(kinds)}"]
    out: list[str] = []
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        out.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"{path}: unexpected {k!r}" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                out += errors(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += errors(item, schema["items"], f"{path}[{i}]")
    return out


def fields(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every property path the schema names: ``targets[].size``, ``nodes[].error.where``."""
    out: list[str] = []
    for key, sub in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        out.append(name)
        for inner in [sub, *sub.get("oneOf", [])]:
            out += fields(inner, f"{name}.")
            if "items" in inner:
                out += fields(inner["items"], f"{name}[].")
    return out
