"""Metrics and traces of the HTTP gateway: the outermost ASGI layer, and the `/metrics` endpoint.

Per request: a SERVER span, continuing the caller's W3C `traceparent` when it sends one (the request id
layer inside adds the request id to it), and Prometheus counts and latencies labelled by route template
(`/aoi/{aoi}`, never the raw path: the label set stays small whatever clients send), method and status.
The catalogue calls made while serving the request carry the span's context (gateway/rpc.py).
"""

from __future__ import annotations

import contextlib
import time

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routing import ROUTE_KEY, Call, Gateway, GoRoute
from libs.runtime.tracing import tracer

UNMATCHED = "unmatched"  # any path no route knows (404): one label value, whatever the path
# HTTP servers take any token as a method: a label per method a client invents would grow the series
# without bound (memory, and the scrape), so the others share one label value.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER_METHOD = "other"
_UNTRACED_PATHS = ("/", "/metrics")
# Seconds; the ingestion endpoints may take minutes (remote catalogues, tiling).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        labels = ("method", "route", "code")
        self.requests = Counter(
            "geocube_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            labels,
            registry=registry,
        )
        self.seconds = Histogram(
            "geocube_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels,
            buckets=HTTP_BUCKETS,
            registry=registry,
        )


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
        root_path = str(scope.get("root_path", ""))
        headers = dict(Headers(scope=scope))
        started = time.perf_counter()
        status = 500  # what the client gets should the app fail before answering

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # Probes and scrapes hit `/` and `/metrics` every few seconds: a trace each would drown the real
        # ones. They are traced only when the caller sends a trace context.
        span_cm = (
            contextlib.nullcontext(None)
            if scope["path"] in _UNTRACED_PATHS and "traceparent" not in headers
            else tracer.start_as_current_span(
                method,
                context=propagate.extract(headers),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": scope["path"]},
            )
        )
        with span_cm as span:
            try:
                await self.app(scope, receive, send_observed)
            finally:
                route = _route(scope, root_path)
                if span is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                code = str(status)
                self.metrics.requests.labels(method, route, code).inc()
                self.metrics.seconds.labels(method, route, code).observe(time.perf_counter() - started)


def _route(scope: Scope, root_path: str) -> str:
    """The route label: the template of the GoRoute that matched, `<mount>/{path}` for a mounted app (the
    dashboard's static files: a Mount extends root_path), else UNMATCHED."""
    if ROUTE_KEY in scope:
        return str(scope[ROUTE_KEY])
    mounted = str(scope.get("root_path", ""))[len(root_path) :]
    return f"{mounted}/{{path}}" if mounted else UNMATCHED


def routes(gateway: Gateway, registry: CollectorRegistry) -> list[GoRoute]:
    async def metrics(call: Call) -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    # Public, as `/` is: Prometheus scrapes without the API's bearer token (restrict it in the network).
    return [GoRoute("/metrics", {"GET": metrics}, gateway, public=True)]
