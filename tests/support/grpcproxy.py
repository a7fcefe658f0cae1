"""A gRPC proxy on loopback that forwards every unary call to a real server, as bytes, and can hold the
calls of one method: a worker behind it then believes its call is in flight forever, which places a
fault exactly between two of its RPCs (e.g. after IndexDatasets, before ReportResult)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, Self

import grpc


class HoldingProxy(grpc.GenericRpcHandler):
    """`with HoldingProxy(target, hold="/ingester.v1.Tasks/ReportResult") as proxy:` serves on
    `proxy.address`; `proxy.held` is set once a call of the held method arrived (it is never forwarded)."""

    def __init__(self, target: str, hold: str):
        self._channel = grpc.insecure_channel(target)
        self._hold = hold
        self.held = threading.Event()
        self._release = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), handlers=[self])
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._server.stop(grace=None)
        self._channel.close()

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        return grpc.unary_unary_rpc_method_handler(self._forwarder(method))  # bytes in, bytes out

    def _forwarder(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        call = self._channel.unary_unary(method)

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            if method == self._hold:
                self.held.set()
                self._release.wait()
                context.abort(grpc.StatusCode.UNAVAILABLE, "held by the test proxy")
            try:
                return call(request, timeout=context.time_remaining())
            except grpc.RpcError as err:
                context.abort(err.code(), err.details() or "")
                raise  # unreachable: abort raises

        return forward
