"""Byte-exact reproduction of the reference's serialisation primitives (Go `encoding/json`, `time`).

Clients diff the reference's output, so strings, numbers, times and durations are formatted the way Go
formats them (spec §1.1), not the way Python's `json` module does:

* strings escape `<`, `>`, `&`, U+2028 and U+2029 (Go's HTML-safe default);
* floats use the shortest representation, without `.0`, switching to exponent form below 1e-6 and from
  1e21 (`1e-7`, `1.5e+21`);
* objects keep the insertion order of the dict given (struct-derived objects); `sort_keys` turns a value
  into the map-derived form whose keys Go sorts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import timestamp_pb2

ZERO_TIME_TEXT = "0001-01-01T00:00:00Z"
_EPOCH = dt.datetime(1970, 1, 1)

# Go's HTML-safe string encoding escapes these even though JSON does not require it.
_GO_EXTRA_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_EXTRA_RE = re.compile("[<>&\u2028\u2029]")


def encode_string(text: str) -> str:
    # Python's non-ASCII mode already escapes exactly what Go escapes among control characters
    # (\b \f \n \r \t short forms, \u00XX lower-case for the others) and leaves DEL and non-ASCII as is.
    encoded = json.dumps(text, ensure_ascii=False)
    return _GO_EXTRA_RE.sub(lambda m: _GO_EXTRA_ESCAPES[m.group(0)], encoded)


def format_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value!r}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # repr() is already in exponent form in this range, with the same shortest digits as Go;
        # Go only drops the leading zero of a two-digit negative exponent (e-07 -> e-7).
        return re.sub(r"e-0(\d)$", r"e-\1", repr(value))
    text = format(decimal.Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def dumps(value: Any) -> str:
    """Encodes like Go's json.Marshal: dicts keep their order (sort them with `sort_keys` first when
    they stand for Go maps), no spaces, HTML-safe strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{encode_string(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encoder_line(value: Any) -> str:
    """What the reference's `json.NewEncoder(w).Encode(v)` writes: the JSON and one newline."""
    return dumps(value) + "\n"


def sort_keys(value: Any) -> Any:
    """Recursively sorts object keys, as Go does for maps (byte order of UTF-8 = code point order)."""
    if isinstance(value, Mapping):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [sort_keys(v) for v in value]
    return value


def format_time(ts: timestamp_pb2.Timestamp | None) -> str:
    """RFC 3339 with nanoseconds, trailing zeros stripped (Go's time.Time JSON form). Protobuf
    timestamps carry no offset, so the reference's "keeps the offset it was parsed with" becomes UTC."""
    if ts is None:
        return ZERO_TIME_TEXT
    moment = _EPOCH + dt.timedelta(seconds=ts.seconds)
    # Not strftime: glibc prints year 1 as "1", Go as "0001".
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if ts.nanos:
        text += "." + f"{ts.nanos:09d}".rstrip("0")
    return text + "Z"


def format_date(ts: timestamp_pb2.Timestamp | None) -> str:
    """YYYY-MM-DD of a timestamp (UTC), the zero time when unset."""
    return format_time(ts)[:10]


def format_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): `1.503s`, `812.4ms`, `2m3.5s`, `1h0m0s`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:
        for unit, scale in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if n < scale * 1000:
                return sign + _with_fraction(n, scale) + unit
    seconds_ns = n % 60_000_000_000
    minutes = n // 60_000_000_000
    text = _with_fraction(seconds_ns, 1_000_000_000) + "s"
    if minutes:
        text = f"{minutes % 60}m" + text
        if minutes >= 60:
            text = f"{minutes // 60}h" + text
    return sign + text


def _with_fraction(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")
