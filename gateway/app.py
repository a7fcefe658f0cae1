"""The HTTP gateway: the reference's HTTP API in front of the catalogue's gRPC services.

`create_app` builds the Starlette application; `serve` runs it with uvicorn on `settings.address` and
returns a handle whose `stop()` shuts it down.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any

import grpc
import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway import middleware, openapi, rpc, telemetry, timeouts
from gateway.routes import catalog, control, dashboard, monitoring, registry, stac
from gateway.routing import Gateway, merge, not_found
from gateway.settings import PREFIX, GatewaySettings
from libs.runtime.auth import ClientSecurity

logger = logging.getLogger(__name__)


def create_app(settings: GatewaySettings, catalogue_channel: grpc.aio.Channel | None = None) -> Starlette:
    """The application. Without `catalogue_channel`, a channel to `settings.catalogue_address` is opened
    on first use and closed at shutdown."""
    security = ClientSecurity.for_catalogue(settings, PREFIX)
    gateway = Gateway(settings, rpc.CatalogueClient(settings.catalogue_address, catalogue_channel, security))
    metrics_registry = CollectorRegistry()  # this application's own: several may run in one process

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await gateway.client.close()

    app = Starlette(
        routes=merge(
            [
                *monitoring.routes(gateway),
                *control.routes(gateway),
                *catalog.routes(gateway),
                *registry.routes(gateway),
                *dashboard.routes(gateway),
                *stac.routes(gateway),
                *telemetry.routes(gateway, metrics_registry),
                *openapi.routes(gateway),
            ]
        )
        + [dashboard.static_mount()],
        middleware=[
            Middleware(telemetry.TelemetryMiddleware, metrics=telemetry.HttpMetrics(metrics_registry)),
            Middleware(timeouts.BodyDeadlineMiddleware, timeout=settings.body_timeout_seconds),
            Middleware(middleware.RequestIdMiddleware),
            Middleware(middleware.CorsMiddleware),
            Middleware(middleware.CleanPathMiddleware),
        ],
        lifespan=lifespan,
    )
    # Exact paths only: the reference neither adds nor strips a trailing slash.
    app.router.redirect_slashes = False
    app.router.default = not_found
    app.state.gateway = gateway
    return app


class _Server(uvicorn.Server):
    # The process's main() owns signal handling (it also has channels to close); uvicorn must not
    # replace the handlers, nor re-raise a captured signal after shutdown.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclasses.dataclass
class RunningGateway:
    """A serving gateway. Awaiting `stop()` (or calling the handle itself) shuts it down."""

    host: str
    port: int
    _server: _Server
    _task: asyncio.Task[None]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task

    def __call__(self) -> Coroutine[Any, Any, None]:
        return self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    # Listening before uvicorn starts: a client connecting early waits in the backlog instead of
    # being refused, so the caller can use the port as soon as serve() returns.
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    settings: GatewaySettings, catalogue_channel: grpc.aio.Channel | None = None
) -> RunningGateway:
    """Starts serving on `settings.address` (port 0 picks a free port, see `.port`)."""
    host, port = settings.host_port()
    sock = _bind(host, port)
    config = uvicorn.Config(
        create_app(settings, catalogue_channel),
        log_config=None,
        access_log=False,
        server_header=False,
        http=timeouts.header_deadline_protocol(settings.header_timeout_seconds),
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="gateway-http")
    bound_host, bound_port = sock.getsockname()[:2]
    logger.info(
        "gateway listening on %s:%d, catalogue at %s", bound_host, bound_port, settings.catalogue_address
    )
    return RunningGateway(bound_host, bound_port, server, task)
