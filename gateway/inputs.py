"""Generic input limits of the gateway, checked before anything reaches the catalogue (docs/api.md,
"Input limits").

PostgreSQL cannot store a NUL character in text, a NOTIFY payload is limited to 8000 bytes and an index
row to ~2700 bytes: without these checks such values travelled to the database and came back as a
500 (or a misleading 503). Python's JSON decoder and every recursive walk over a document raise
RecursionError on deep nesting, hence the depth bound. Every refusal is a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError

# Names (AOIs, graphs, variables, instances, path segments): far above any real name, far below the
# database's NOTIFY (8000 bytes) and index-row (~2700 bytes) limits even in 4-byte UTF-8.
MAX_NAME_CHARS = 256
# JSON nesting: a GeoJSON MultiPolygon inside a FeatureCollection is 7 deep; metadata maps are flat.
MAX_JSON_DEPTH = 64

_NUL = "\x00"


class Refused(ValueError):
    """An input outside the limits; the message names the field."""


def nul_error(field: str) -> Refused:
    return Refused(f"field '{field}': the NUL character (\\u0000) is not allowed")


def name(value: str, field: str) -> str:
    """A name: no NUL, at most MAX_NAME_CHARS characters. Raises Refused."""
    if _NUL in value:
        raise nul_error(field)
    if len(value) > MAX_NAME_CHARS:
        raise Refused(f"field '{field}': {len(value)} characters, the limit is {MAX_NAME_CHARS}")
    return value


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_document(doc: Any, root: str = "") -> None:
    """Walks a decoded JSON document (iteratively: it may be deep) and raises Refused for a string or
    key holding NUL, or for nesting deeper than MAX_JSON_DEPTH, naming the path (`root` prefixes it)."""
    from gateway.refjson.fields import JsonObject  # refjson imports this module

    stack: list[tuple[Any, str, int]] = [(doc, root, 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if _NUL in value:
                raise nul_error(path or "(document)")
            continue
        if isinstance(value, JsonObject):
            items: list[tuple[str | int, Any]] = list(value.pairs)
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            raise depth_error(path)
        for key, item in items:
            if isinstance(key, str) and _NUL in key:
                raise nul_error(_join(path, key.replace(_NUL, "\\u0000")))
            stack.append((item, _join(path, key), depth + 1))


def depth_error(path: str = "") -> Refused:
    where = f"field '{path}': " if path else ""
    return Refused(f"{where}JSON nested deeper than {MAX_JSON_DEPTH} levels")


def check_request(path_params: dict[str, Any], query: list[tuple[str, str]]) -> None:
    """Path parameters are names (bounded, no NUL); query parameters may not hold NUL. Raises a 400."""
    for key, value in path_params.items():
        if isinstance(value, str):
            try:
                name(value, key)
            except Refused as exc:
                raise GatewayError(400, f"path parameter {str(exc).removeprefix('field ')}") from None
    for key, value in query:
        if _NUL in key or _NUL in value:
            shown = key.replace(_NUL, "\\u0000")
            raise GatewayError(400, f"query parameter '{shown}': the NUL character (%00) is not allowed")
