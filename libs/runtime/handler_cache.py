"""Per-method cache of the handlers a server interceptor wraps.

grpc.aio runs every interceptor's `intercept_service` on every call; building the wrapping closure and
its `RpcMethodHandler` there cost each call one of each per interceptor (three of them), for a result
that depends only on the method. The wrapper is built on a method's first call and reused as long as
the handler it wraps is the same object (the servicer's handler, or the cached wrapper of the next
interceptor). Only registered methods get here (an unknown one has no handler), so the cache is bounded
by the services' methods.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

Build = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


class HandlerCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, method: str, handler: grpc.RpcMethodHandler, build: Build) -> grpc.RpcMethodHandler:
        entry = self._entries.get(method)
        if entry is not None and entry[0] is handler:
            return entry[1]
        wrapped = build(method, handler)
        self._entries[method] = (handler, wrapped)
        return wrapped


class UnaryInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that wraps unary-unary handlers, each wrapper built once per method:
    subclasses write `_wrap(method, handler)`; other handlers pass through unchanged."""

    def __init__(self) -> None:
        self._wrapped = HandlerCache()

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return self._wrapped.get(handler_call_details.method, handler, self._wrap)

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        raise NotImplementedError
