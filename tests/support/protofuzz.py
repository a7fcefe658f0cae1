"""Hypothesis strategies for malformed gRPC calls, driven by the generated descriptors: every method of a
service, and for each a request message with random field values (NUL-laden and very long strings,
extreme integers, times and durations outside their range, unknown enum values, nested Structs)."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor, descriptor_pool, message_factory
from hypothesis import strategies as st

_FD = descriptor.FieldDescriptor
_MAX_DEPTH = 3

# Strings a database or a parser chokes on, beside random text: NUL, long names (NOTIFY payloads are
# limited to 8000 bytes, btree index rows to ~2.7 kB), path tricks and SQL-ish text.
# Random letters do not compress: PostgreSQL must store (and index) all of them.
INCOMPRESSIBLE = "".join(random.Random(11).choices(string.ascii_letters, k=10_000))
_NASTY_STRINGS = st.sampled_from(
    ["", "\x00", "a\x00b", "x" * 10_000, INCOMPRESSIBLE, INCOMPRESSIBLE[:3000], "é" * 3000]
    + ["../../etc/passwd", "%", "_", "'; --", "\\", "\u2028"]
)
_STRINGS = st.one_of(_NASTY_STRINGS, st.text(max_size=12), st.text(alphabet="\x00ab.%_/", max_size=6))

_INT_RANGES = {
    _FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _FD.TYPE_UINT32: (0, 2**32 - 1),
    _FD.TYPE_FIXED32: (0, 2**32 - 1),
    _FD.TYPE_UINT64: (0, 2**64 - 1),
    _FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_EDGE_INTS = (
    0,
    1,
    -1,
    2,
    2**31 - 1,
    -(2**31),
    2**32 - 1,
    2**40,
    -(2**40),
    2**53,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
)


def _integers(field_type: int) -> st.SearchStrategy[int]:
    low, high = _INT_RANGES[field_type]
    edges = [v for v in _EDGE_INTS if low <= v <= high]
    return st.one_of(
        st.sampled_from(edges), st.integers(low, high), st.integers(-3, 100).filter(lambda v: v >= low)
    )


_SECONDS = st.one_of(
    st.sampled_from([0, 1, -1, -62135596800, -62135596801, 253402300799, 253402300800, 2**40, -(2**40)]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 5),  # short long-poll waits
)
_NANOS = st.one_of(st.sampled_from([0, 1, 999_999_999, 1_000_000_000, -1]), st.integers(-(2**31), 2**31 - 1))


def _struct_values(depth: int) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.floats(), _STRINGS)
    if depth >= _MAX_DEPTH:
        return leaves
    inner = _struct_values(depth + 1)
    return st.one_of(leaves, st.lists(inner, max_size=3), st.dictionaries(_STRINGS, inner, max_size=3))


def _scalar(field: descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == _FD.TYPE_STRING:
        return _STRINGS
    if kind == _FD.TYPE_BYTES:
        return st.binary(max_size=16)
    if kind == _FD.TYPE_BOOL:
        return st.booleans()
    if kind in (_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE):
        return st.floats(width=32 if kind == _FD.TYPE_FLOAT else 64)
    if kind == _FD.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))  # proto3 enums are open
    return _integers(kind)


def message_values(message_type: descriptor.Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    """A message of `message_type` (an instance of its generated class) with random fields set."""
    cls = message_factory.GetMessageClass(message_type)
    name = message_type.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return st.builds(lambda s, n: cls(seconds=s, nanos=n), _SECONDS, _NANOS)
    if name == "google.protobuf.Struct":

        def struct(values: dict[str, Any]) -> Any:
            out = cls()
            out.update(values)
            return out

        return st.builds(struct, st.dictionaries(_STRINGS, _struct_values(depth), max_size=3))
    if depth >= _MAX_DEPTH:
        return st.just(cls())
    fields = {f.name: _field_values(f, depth) for f in message_type.fields}
    # Each field is set or left out; a oneof keeps the last one set, which is fine.
    optional = {name: st.one_of(st.none(), values) for name, values in fields.items()}
    return st.fixed_dictionaries(optional).map(lambda chosen: _fill(cls(), chosen))


def _fill(out: Any, chosen: dict[str, Any]) -> Any:
    for name, value in chosen.items():
        if value is None:
            continue
        field = out.DESCRIPTOR.fields_by_name[name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            target = getattr(out, name)
            for key, item in value.items():
                if field.message_type.fields_by_name["value"].message_type is not None:
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            target = getattr(out, name)
            if field.message_type is not None:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.message_type is not None:
            getattr(out, name).CopyFrom(value)
        else:
            setattr(out, name, value)
    return out


def _field_values(field: descriptor.FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key = _scalar(field.message_type.fields_by_name["key"])
        value_field = field.message_type.fields_by_name["value"]
        value = (
            message_values(value_field.message_type, depth + 1)
            if value_field.message_type is not None
            else _scalar(value_field)
        )
        return st.dictionaries(key, value, max_size=2)
    one = message_values(field.message_type, depth + 1) if field.message_type is not None else _scalar(field)
    if field.is_repeated:
        return st.lists(one, max_size=2)
    return one


def methods(service_names: Iterable[str]) -> list[descriptor.MethodDescriptor]:
    """Every method of the named services (their generated modules must be imported)."""
    pool = descriptor_pool.Default()
    return [m for name in service_names for m in pool.FindServiceByName(name).methods]


def method_path(method: descriptor.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"
