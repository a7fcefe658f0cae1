"""Checks every unary request gets before its servicer runs, whatever the RPC: bytes that do not decode
as the request message, a NUL character in any string (PostgreSQL text and jsonb cannot hold one),
Timestamp / Duration values outside the range protobuf defines for them, NaN or Infinity in a Struct.
Each answers INVALID_ARGUMENT naming the field, where the servicer would otherwise fail with UNKNOWN or
INTERNAL.

The walk is generic (driven by the message descriptors, so a new RPC or field is covered without code
here) and cheap: per message type, the fields that can hold a string or a time are found once, and only
set fields are visited.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import descriptor
from google.protobuf import message as protobuf_message

from libs.runtime.errors import InvalidArgument
from libs.runtime.handler_cache import HandlerCache

_FD = descriptor.FieldDescriptor
_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"
_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_LIST_VALUE = "google.protobuf.ListValue"
# google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799
# google.protobuf.Duration: about ±10,000 years.
_MAX_DURATION_SECONDS = 315576000000
_MAX_NANOS = 999_999_999


class _Undecodable:
    """What the deserializer hands on for bytes it cannot decode, so the error is raised (and answered)
    where the servicer would run, after the interceptors that look at metadata (auth) had their say."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


def _message_name(deserializer: Callable[[bytes], Any]) -> str:
    owner = getattr(deserializer, "__self__", None)  # `SomeRequest.FromString`, a bound class method
    full_name = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "")
    return str(full_name).rsplit(".", 1)[-1] or "request message"


def _tolerant(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    name = _message_name(deserializer)

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except protobuf_message.Error:  # DecodeError: truncated, wrong wire type, invalid UTF-8, too deep
            return _Undecodable(name)

    return deserialize


# Per field (by full name): how it is checked; None when nothing in it can hold a string or a time.
_STRING, _TIME, _DURATION_KIND, _MESSAGE, _STRUCT_KIND, _VALUE_KIND, _LIST_KIND, _MAP = range(8)
_field_kinds: dict[str, int | None] = {}
# Per message type (by full name): whether it can hold a string or a time anywhere.
_message_relevant: dict[str, bool] = {}
_WELL_KNOWN = (_TIMESTAMP, _DURATION, _STRUCT, _VALUE, _LIST_VALUE)


def _relevant(message: descriptor.Descriptor) -> bool:
    """Whether a message type can hold a string or a time anywhere in it (memoised; types may nest
    themselves, so this is a search over the types reachable from `message`)."""
    name = message.full_name
    if name not in _message_relevant:
        seen: set[str] = set()
        pending = [message]
        found = False
        while pending and not found:
            current = pending.pop()
            if current.full_name in seen:
                continue
            seen.add(current.full_name)
            for field in current.fields:
                sub = field.message_type  # None unless a message field
                if field.type == _FD.TYPE_STRING or (
                    field.type == _FD.TYPE_MESSAGE and sub is not None and sub.full_name in _WELL_KNOWN
                ):
                    found = True
                    break
                if field.type == _FD.TYPE_MESSAGE and sub is not None:
                    pending.append(sub)
        _message_relevant[name] = found or name in _WELL_KNOWN
    return _message_relevant[name]


def _kind(field: descriptor.FieldDescriptor) -> int | None:
    key = field.full_name
    if key in _field_kinds:
        return _field_kinds[key]
    kind: int | None = None
    if field.type == _FD.TYPE_STRING:
        kind = _STRING
    elif field.type == _FD.TYPE_MESSAGE and field.message_type is not None:
        sub = field.message_type
        if sub.GetOptions().map_entry:
            kind = _MAP if _relevant(sub) else None
        else:
            kind = {
                _TIMESTAMP: _TIME,
                _DURATION: _DURATION_KIND,
                _STRUCT: _STRUCT_KIND,
                _VALUE: _VALUE_KIND,
                _LIST_VALUE: _LIST_KIND,
            }.get(sub.full_name, _MESSAGE)
            if kind == _MESSAGE and not _relevant(sub):
                kind = None
    _field_kinds[key] = kind
    return kind


class _Refused(Exception):
    """A bad value deep in a request. The path is built on the way out (innermost segment first), so
    the walk formats nothing for the requests that pass, which are nearly all of them."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []

    def path(self) -> str:
        return "".join(reversed(self.segments)).removeprefix(".")


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise _Refused("contains a NUL character")


def _check_key(key: Any) -> None:
    # A map key has no path of its own: the message says which key (as a Python literal: NUL shows).
    if isinstance(key, str) and "\x00" in key:
        refused = _Refused("contains a NUL character")
        refused.segments.append(f" key {key!r}")
        raise refused


def _check_time(value: Any) -> None:
    if not _MIN_SECONDS <= value.seconds <= _MAX_SECONDS:
        raise _Refused(f"time outside the years 0001-9999 (seconds={value.seconds})")
    if not 0 <= value.nanos <= _MAX_NANOS:
        raise _Refused(f"nanos must be 0 to 999999999 (found {value.nanos})")


def _check_duration(value: Any) -> None:
    if not -_MAX_DURATION_SECONDS <= value.seconds <= _MAX_DURATION_SECONDS:
        raise _Refused(f"duration outside ±10000 years (seconds={value.seconds})")
    if not -_MAX_NANOS <= value.nanos <= _MAX_NANOS or value.seconds * value.nanos < 0:
        raise _Refused(f"nanos must be within ±999999999, with the sign of seconds (found {value.nanos})")


def _check_value(value: Any) -> None:
    which = value.WhichOneof("kind")
    if which == "string_value":
        _check_string(value.string_value)
    elif which == "struct_value":
        _check_struct(value.struct_value)
    elif which == "list_value":
        _check_list(value.list_value)
    elif which == "number_value" and not math.isfinite(value.number_value):
        # JSON (and PostgreSQL jsonb) has no NaN or Infinity.
        raise _Refused(f"not a finite number ({value.number_value})")


def _check_struct(value: Any) -> None:
    for key, item in value.fields.items():
        _check_key(key)
        try:
            _check_value(item)
        except _Refused as refused:
            refused.segments.append(f".{key}")
            raise


def _check_list(value: Any) -> None:
    for i, item in enumerate(value.values):
        try:
            _check_value(item)
        except _Refused as refused:
            refused.segments.append(f"[{i}]")
            raise


_CHECKS: dict[int, Callable[[Any], None]] = {}


def _check_map(field: descriptor.FieldDescriptor, value: Any) -> None:
    entry = field.message_type
    assert entry is not None  # a map field's entry message
    key_kind = _kind(entry.fields_by_name["key"])
    value_kind = _kind(entry.fields_by_name["value"])
    check = _CHECKS[value_kind] if value_kind is not None else None
    for key, item in value.items():
        if key_kind is not None:
            _check_key(key)
        if check is not None:
            try:
                check(item)
            except _Refused as refused:
                refused.segments.append(f"[{key!r}]")
                raise


def _check_message(message: Any) -> None:
    for field, value in message.ListFields():
        kind = _kind(field)
        if kind is None:
            continue
        try:
            if kind == _MAP:
                _check_map(field, value)
            elif field.is_repeated:
                check = _CHECKS[kind]
                for i, item in enumerate(value):
                    try:
                        check(item)
                    except _Refused as refused:
                        refused.segments.append(f"[{i}]")
                        raise
            else:
                _CHECKS[kind](value)
        except _Refused as refused:
            refused.segments.append(f".{field.name}")
            raise


_CHECKS.update(
    {
        _STRING: _check_string,
        _MESSAGE: _check_message,
        _TIME: _check_time,
        _DURATION_KIND: _check_duration,
        _STRUCT_KIND: _check_struct,
        _VALUE_KIND: _check_value,
        _LIST_KIND: _check_list,
    }
)


def check_message(message: Any) -> None:
    """Raises InvalidArgument naming the first offending field (`scene.tiles[0].previous.date`)."""
    try:
        _check_message(message)
    except _Refused as refused:
        raise InvalidArgument(refused.path(), refused.reason) from None


def check_request(request: Any) -> None:
    """Raises InvalidArgument for a request that did not decode or holds a value no service accepts."""
    if isinstance(request, _Undecodable):
        raise InvalidArgument("request", f"not a valid {request.message}")
    if hasattr(request, "ListFields") and _relevant(request.DESCRIPTOR):
        check_message(request)


class RequestChecks(grpc.aio.ServerInterceptor):
    """Runs `check_request` before every unary-request RPC; streaming requests are left as they are."""

    def __init__(self) -> None:
        # The innermost interceptor: the handler is the servicer's own, the same on every call, so the
        # checked form (and its descriptor lookups) is built once per method, not per call.
        self._checked = HandlerCache()

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        if handler.unary_unary is None and handler.unary_stream is None:
            return handler
        return self._checked.get(handler_call_details.method, handler, _checked)


def _checked(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    return _unary_unary(handler) if handler.unary_unary is not None else _unary_stream(handler)


async def _refuse(context: grpc.aio.ServicerContext, error: InvalidArgument) -> None:
    await context.abort(error.code, str(error))


def _unary_unary(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    inner = handler.unary_unary

    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            check_request(request)
        except InvalidArgument as error:
            await _refuse(context, error)
        return await inner(request, context)

    return grpc.unary_unary_rpc_method_handler(
        checked,
        request_deserializer=_tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


def _unary_stream(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    inner = handler.unary_stream

    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            check_request(request)
        except InvalidArgument as error:
            await _refuse(context, error)
        responses = inner(request, context)
        if hasattr(responses, "__aiter__"):
            async for response in responses:
                yield response
        else:  # a coroutine that writes its responses with context.write
            await responses

    return grpc.unary_stream_rpc_method_handler(
        checked,
        request_deserializer=_tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )
