"""The one error table: domain errors -> gRPC status codes -> HTTP statuses.

Domain code raises the classes below (no grpc import there). The server interceptor turns them into gRPC
statuses (`to_grpc_code`), the gateway turns gRPC statuses into HTTP answers (`http_status`). Anything
else that escapes a servicer is a bug: it becomes INTERNAL and is logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc


class IngesterError(Exception):
    """Base of the errors a caller can act upon. `str(err)` is the message shown to the caller."""

    code = grpc.StatusCode.INTERNAL


class InvalidArgument(IngesterError):
    """The request is malformed: names the field and the reason."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class NotFound(IngesterError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(IngesterError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(IngesterError):
    """The request is valid but the current state refuses it (e.g. a lease no longer held)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(IngesterError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(IngesterError):
    """A dependency (database, peer service) cannot be reached now; retrying later may work."""

    code = grpc.StatusCode.UNAVAILABLE


# gRPC status -> HTTP status, used by the gateway for every call it forwards.
_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}


def http_status(code: grpc.StatusCode) -> int:
    return _HTTP_STATUS.get(code, 500)


def to_grpc_code(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, IngesterError):
        return exc.code
    return grpc.StatusCode.INTERNAL


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then its causes and contexts (each once): what translators search for a known error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
