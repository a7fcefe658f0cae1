"""Prometheus metrics of the gRPC services: an RPC interceptor and the metrics HTTP server.

Each service owns its `CollectorRegistry` (no process-global registry: the tests and the local stack run
several services in one process). The RPC metrics follow the names of grpc-ecosystem's go-grpc-prometheus,
which ready-made dashboards expect: `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}` and
the `grpc_server_handling_seconds` histogram. The metrics server is prometheus_client's threaded HTTP
server on its own port (`GEOCUBE_<SVC>_METRICS_ADDRESS`): scrapes never queue behind the gRPC work, and
collectors that need the event loop submit to it (services/catalogue/metrics.py).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
import prometheus_client
from google.protobuf import descriptor_pool
from prometheus_client import CollectorRegistry, Counter, Histogram

from libs.runtime.errors import InvalidArgument, Unavailable
from libs.runtime.handler_cache import UnaryInterceptor
from libs.runtime.tracing import final_code

logger = logging.getLogger(__name__)

# Seconds. gRPC calls range from sub-millisecond reads to long-polls (LeaseTask waits up to a minute).
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class RpcMetrics:
    def __init__(self, registry: CollectorRegistry):
        labels = ("grpc_service", "grpc_method", "grpc_code")
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code.",
            labels,
            registry=registry,
        )
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time to answer an RPC, by status code.",
            labels,
            buckets=RPC_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        service, name = method_labels(method)
        self.handled.labels(service, name, code.name).inc()
        self.seconds.labels(service, name, code.name).observe(seconds)


UNKNOWN = "unknown"


@functools.lru_cache(maxsize=512)
def method_labels(method: str) -> tuple[str, str]:
    """(service, method) of a gRPC method path, or ("unknown", "unknown") for a method no loaded proto
    defines: a call without a token to an invented method is answered (UNAUTHENTICATED, so as not to
    tell what exists) and counted, but its path must not become a label (one series per invented name)."""
    service, _, name = method.lstrip("/").partition("/")
    try:
        descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    except KeyError:
        return UNKNOWN, UNKNOWN
    return service, name


class MetricsInterceptor(UnaryInterceptor):
    """Counts and times every unary RPC with the status it ended with (after the error table ran)."""

    def __init__(self, metrics: RpcMetrics):
        self._metrics = metrics
        super().__init__()

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return await inner(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._metrics.observe(method, final_code(context, error), time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def interceptors(registry: CollectorRegistry | None) -> list[grpc.aio.ServerInterceptor]:
    """The metrics interceptor for `registry` ([] without one: metrics disabled)."""
    return [] if registry is None else [MetricsInterceptor(RpcMetrics(registry))]


@dataclasses.dataclass
class MetricsServer:
    """A serving /metrics endpoint; `port` is the bound port."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def parse_address(setting: str, address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgument(setting, f"expected host:port (or empty to disable), got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(setting: str, address: str, registry: CollectorRegistry) -> MetricsServer | None:
    """Serves `registry` on `address` (host:port, port 0 picks one); None when `address` is empty.
    `setting` names the variable in error messages (a busy port is a start-up error, not a silent gap)."""
    if not address.strip():
        return None
    host, port = parse_address(setting, address)
    try:
        server, thread = prometheus_client.start_http_server(port, host, registry)
    except OSError as exc:
        raise Unavailable(f"{setting}: cannot listen on {address}: {exc.strerror}") from None
    bound = server.server_address
    logger.info("metrics on http://%s:%d/metrics", bound[0], bound[1])
    return MetricsServer(str(bound[0]), int(bound[1]), server, thread)
