"""gRPC server plumbing every service shares: error interceptor, health, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from libs.runtime import errors, metrics, request_checks, tracing
from libs.runtime.auth import ServerSecurity
from libs.runtime.handler_cache import UnaryInterceptor

logger = logging.getLogger(__name__)


# Turns an exception a servicer let escape into a domain error, or None when it is a bug. A service
# passes one for the driver errors it knows to be conditions, not bugs (the catalogue: database outages).
Translator = Callable[[Exception], errors.IngesterError | None]


class ErrorInterceptor(UnaryInterceptor):
    """Applies the error table: a domain error aborts the call with its status and message; any other
    exception is a bug, logged with its traceback and answered INTERNAL without internals, unless the
    service's translator makes a domain error of it."""

    def __init__(self, translate: Translator | None = None):
        self._translate = translate
        super().__init__()

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await inner(request, context)
            except errors.IngesterError as exc:
                await context.abort(exc.code, str(exc))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # context.abort raises an internal exception type: let it through untouched.
                if type(exc).__module__.startswith("grpc"):
                    raise
                known = self._translate(exc) if self._translate is not None else None
                if known is not None:
                    logger.warning("%s: %s (%s: %s)", method, known, type(exc).__name__, exc)
                    await context.abort(known.code, str(known))
                logger.exception("unexpected error in %s", method)
                await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}")

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


Registrar = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """A started grpc.aio server with health and reflection. `port` is the bound port (0 picks one)."""

    def __init__(self, server: grpc.aio.Server, port: int, health_servicer: health.aio.HealthServicer):
        self.server = server
        self.port = port
        self.health = health_servicer

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        await self.health.set("", status)

    async def stop(self, grace: float = 5.0) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)


async def start_server(
    address: str,
    registrars: Iterable[Registrar],
    service_names: Iterable[str],
    translate: Translator | None = None,
    security: ServerSecurity | None = None,
    registry: metrics.CollectorRegistry | None = None,
) -> GrpcServer:
    security = security or ServerSecurity()  # none: the loopback servers of tests and tools
    # Outermost first: the trace and the metrics see every call, refused ones included, with the
    # status the error table chose; request checks inside the error interceptor: undecodable or
    # unstorable requests are INVALID_ARGUMENT.
    interceptors = [
        tracing.ServerInterceptor(),
        *metrics.interceptors(registry),
        *security.interceptors(),
        ErrorInterceptor(translate),
        request_checks.RequestChecks(),
    ]
    # No SO_REUSEPORT (gRPC sets it by default): a second process on a busy port must fail to start, not
    # silently take half of the connections.
    server = grpc.aio.server(interceptors=interceptors, options=[("grpc.so_reuseport", 0)])
    for register in registrars:
        register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        port = security.add_port(server, address)
    except RuntimeError:  # grpc's "Failed to bind": a start-up error naming the address, not a traceback
        port = 0
    if not security.authenticates:
        logger.warning(
            "gRPC server on %s accepts calls without credentials (no AUTH_TOKENS, no mTLS)", address
        )
    if port == 0:
        raise errors.Unavailable(f"cannot listen on {address} (in use, or not an address of this host)")
    await server.start()
    result = GrpcServer(server, port, health_servicer)
    await result.set_serving(True)
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return result


async def wait_for_stop_signal() -> None:
    """Returns on SIGTERM or SIGINT (Ctrl-C): the caller then stops its work gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
