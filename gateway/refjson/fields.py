"""Decoding JSON the way the reference's Go decoder does: case-insensitive keys, `null` = zero value.

`loads` turns objects into `JsonObject`, which keeps the original pairs (Go maps keep their keys as
written) and offers a case-insensitive lookup (Go struct fields match keys whatever their case; the last
matching key wins). The typed readers below raise `DecodeError` with a message naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from gateway import inputs


class DecodeError(ValueError):
    """A JSON document that does not fit the expected shape; the message names the field."""


class JsonObject:
    """A decoded JSON object."""

    __slots__ = ("_folded", "pairs")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = [(clean_text(k), v) for k, v in pairs]
        self._folded: dict[str, Any] = {}
        for key, value in self.pairs:
            self._folded[key.lower()] = value

    def has(self, name: str) -> bool:
        return name.lower() in self._folded

    def get(self, name: str, default: Any = None) -> Any:
        """The value of the last key matching `name` case-insensitively (struct-field semantics)."""
        return self._folded.get(name.lower(), default)

    def as_dict(self) -> dict[str, Any]:
        """Map semantics: keys as written, a repeated key keeps its last value."""
        return dict(self.pairs)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    # json.loads keeps lone surrogates from `\ud800` escapes; protobuf refuses them and Go replaces them
    # with U+FFFD, so do the same.
    return _SURROGATE.sub("\ufffd", text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def loads(text: str) -> Any:
    """Parses JSON (strictly: no NaN/Infinity, which Go rejects). A leading UTF-8 BOM is tolerated.
    Raises ValueError; `inputs.Refused` (a ValueError) for NUL characters or too deep nesting."""
    try:
        doc = json.loads(
            text.removeprefix("\ufeff"), object_pairs_hook=JsonObject, parse_constant=_reject_constant
        )
    except RecursionError:
        raise inputs.depth_error() from None
    inputs.check_document(doc)
    return doc


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, JsonObject):
        return "object"
    return "array"


def _wrong(path: str, expected: str, value: Any) -> DecodeError:
    return DecodeError(f"field '{path}': expected {expected}, got {kind(value)}")


def string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _wrong(path, "a string", value)
    return clean_text(value)


def boolean(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong(path, "a boolean", value)
    return value


def integer(value: Any, path: str, bits: int = 32) -> int:
    if value is None:
        return 0
    # Go refuses 1.0 or 1e2 for an int field: only integer literals are accepted.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(path, "an integer", value)
    limit = 1 << (bits - 1)
    if not -limit <= value < limit:
        raise DecodeError(f"field '{path}': {value} is out of range for a {bits}-bit integer")
    return value


def obj(value: Any, path: str) -> JsonObject | None:
    if value is None:
        return None
    if not isinstance(value, JsonObject):
        raise _wrong(path, "an object", value)
    return value


def array(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(path, "an array", value)
    return value


def string_map(value: Any, path: str) -> dict[str, str] | None:
    """A JSON object of strings; None for null (the reference tells null and {} apart)."""
    mapping = obj(value, path)
    if mapping is None:
        return None
    return {key: string(item, f"{path}.{key}") for key, item in mapping.as_dict().items()}


def plain(value: Any) -> Any:
    """Converts JsonObject trees to plain dicts (map semantics), e.g. for a protobuf Struct."""
    if isinstance(value, JsonObject):
        return {key: plain(item) for key, item in value.as_dict().items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return clean_text(value)
    return value


def struct(value: Any, path: str, target: struct_pb2.Struct) -> bool:
    """Fills `target` from a JSON object; False (target untouched) for null."""
    mapping = obj(value, path)
    if mapping is None:
        return False
    target.update(plain(mapping))
    return True


# RFC 3339 as Go's time.Time decoder accepts it: fractional seconds optional, `Z` or a ±hh:mm offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_EPOCH = dt.datetime(1970, 1, 1)
# The range of google.protobuf.Timestamp: years 0001 to 9999.
_MIN_SECONDS = -62135596800
_MAX_SECONDS = 253402300799


def timestamp(value: Any, path: str, target: timestamp_pb2.Timestamp) -> bool:
    """Parses an RFC 3339 time into `target` (as the UTC instant); False (untouched) for null and for
    the zero time."""
    if value is None:
        return False
    if not isinstance(value, str):
        raise _wrong(path, "an RFC 3339 time string", value)
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise DecodeError(
            f"field '{path}': cannot parse {value!r} as an RFC 3339 time (2006-01-02T15:04:05Z07:00)"
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        local = dt.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise DecodeError(f"field '{path}': invalid time {value!r}: {exc}") from None
    offset = 0
    if match.group(9):
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            raise DecodeError(f"field '{path}': invalid time zone offset in {value!r}")
        offset = (off_hours * 60 + off_minutes) * (1 if match.group(9) == "+" else -1)
    delta = local - _EPOCH
    seconds = delta.days * 86400 + delta.seconds - offset * 60
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise DecodeError(f"field '{path}': time {value!r} is outside years 0001-9999")
    # Go keeps nanoseconds and ignores further digits.
    nanos = int((match.group(7) or "0")[:9].ljust(9, "0"))
    if seconds == _MIN_SECONDS and nanos == 0:
        # Go's zero time, which the reference writes for "no time": leave the field unset.
        return False
    target.seconds = seconds
    target.nanos = nanos
    return True
