"""OpenTelemetry traces, propagated gateway → catalogue → workers with W3C trace context.

`configure(service)` is called once by each process's main(). It installs an SDK tracer provider, so
that spans have real ids (they appear in the log lines) and a trace context is propagated even when
nothing is exported; the exporter is chosen by the standard variables: OTEL_TRACES_EXPORTER (`none`,
the default here so that nothing is sent anywhere unasked, `otlp` or `console`),
OTEL_EXPORTER_OTLP_PROTOCOL (`grpc`, default, or `http/protobuf`), OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS… (read by the exporters themselves), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_TRACES_SAMPLER(_ARG) and OTEL_SDK_DISABLED. See docs/observability.md.

Across gRPC the context travels in the `traceparent`/`tracestate` metadata (and the request id in
`x-request-id`): `ClientInterceptor` adds them to every call a worker or the gateway makes,
`ServerInterceptor` continues them in every service. A task stores the context of the call that created
it (schema/0010_*.sql) and hands it to the worker in `Task.traceparent`, so that the worker's spans for
that task belong to the ingestion's trace.

The tracer provider is process-global, as OpenTelemetry's API makes it; nothing else here is.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.runtime import logs
from libs.runtime.handler_cache import UnaryInterceptor

logger = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
TRACEPARENT = "traceparent"
_PROPAGATED = (TRACEPARENT, "tracestate")
# Polled all the time by every worker and probe: a span per call would drown the traces. They are
# traced only as part of a trace that is already going on (a heartbeat inside a task's span).
_UNTRACED_ROOTS = ("/grpc.health.v1.Health/", "/grpc.reflection.", "/ingester.v1.Tasks/LeaseTask")

tracer = trace.get_tracer("geocube-ingester")


def configure(service_name: str, environ: Mapping[str, str] | None = None) -> None:
    """Installs the tracer provider of this process (once; later calls leave the first one in place)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        logger.debug("tracer provider already configured")
        return
    trace.set_tracer_provider(build_provider(service_name, env))


def build_provider(service_name: str, env: Mapping[str, str]) -> Any:
    """An SDK tracer provider with the exporters OTEL_TRACES_EXPORTER names (InvalidArgument for an
    unknown exporter or protocol: a setting error at start-up, not spans silently lost)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME wins over our default name.
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service_name})
    processors = [_processor(name, env) for name in _exporter_names(env)]
    provider = TracerProvider(resource=resource)
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def _exporter_names(env: Mapping[str, str]) -> list[str]:
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if n.strip()]
    return [n for n in names if n != "none"]


def _processor(name: str, env: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from libs.runtime.errors import InvalidArgument

    if name == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if name != "otlp":
        raise InvalidArgument("OTEL_TRACES_EXPORTER", f"unknown exporter {name!r} (none, otlp or console)")
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    else:
        raise InvalidArgument("OTEL_EXPORTER_OTLP_PROTOCOL", f"{protocol!r}: grpc or http/protobuf")
    return BatchSpanProcessor(OTLPSpanExporter())


def shutdown() -> None:
    """Flushes the spans still buffered (called at the end of main)."""
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if stop is not None:
        stop()


# --- carriers ---------------------------------------------------------------------------------------


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" when there is none): what a task stores."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT, "")


def context_from(traceparent: str) -> otel_context.Context:
    """The context a stored traceparent names (the empty context for "" or garbage)."""
    return propagate.extract({TRACEPARENT: traceparent} if traceparent else {})


@contextlib.contextmanager
def continued(traceparent: str) -> Iterator[None]:
    """Makes the context `traceparent` names current until exit (nothing changes for "")."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(context_from(traceparent))
    try:
        yield
    finally:
        otel_context.detach(token)


def outgoing_metadata(metadata: Sequence[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """`metadata` plus the trace context and the bound request id, unless it carries them already."""
    result = list(metadata or ())
    present = {key for key, _ in result}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for key in _PROPAGATED:
        if key in carrier and key not in present:
            result.append((key, carrier[key]))
    request_id = logs.current().get("request_id")
    if request_id and REQUEST_ID_KEY not in present:
        result.append((REQUEST_ID_KEY, str(request_id)))
    return result


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the trace context and the request id to every unary call of a channel."""

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            outgoing_metadata(client_call_details.metadata),
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


# --- server side -------------------------------------------------------------------------------------


def final_code(context: grpc.aio.ServicerContext, exc: BaseException | None) -> grpc.StatusCode:
    """The status a call ended with: the one it aborted with or set, else OK or (escaping error) UNKNOWN."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if exc is None else grpc.StatusCode.UNKNOWN


class ServerInterceptor(UnaryInterceptor):
    """Continues the caller's trace (a SERVER span per RPC) and binds its request id to the log context."""

    def __init__(self) -> None:
        super().__init__()

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """Built once per method (HandlerCache): what varies per call is read from the call's context."""
        inner = handler.unary_unary
        untraced_root = method.startswith(_UNTRACED_ROOTS)
        service, _, name = method.lstrip("/").partition("/")

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            carrier: dict[str, str] = {}
            request_id = ""
            for key, value in context.invocation_metadata() or ():
                if key in _PROPAGATED:
                    carrier[key] = str(value)
                elif key == REQUEST_ID_KEY:
                    request_id = str(value)[:128]
            parent = propagate.extract(carrier)
            traced = not untraced_root or trace.get_current_span(parent).get_span_context().is_valid
            if not traced:
                with logs.bind(request_id=request_id):
                    return await inner(request, context)
            with (
                tracer.start_as_current_span(
                    method.lstrip("/"),
                    context=parent,
                    kind=SpanKind.SERVER,
                    attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span,
                logs.bind(request_id=request_id),
            ):
                if request_id:
                    span.set_attribute("geocube.request_id", request_id)
                error: BaseException | None = None
                try:
                    return await inner(request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    code = final_code(context, error)
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code not in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND):
                        span.set_status(Status(StatusCode.ERROR, code.name))

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def task_span(
    name: str, traceparent: str, attributes: Mapping[str, Any]
) -> AbstractContextManager[trace.Span]:
    """A CONSUMER span for a leased task, child of the context stored with it (a context manager)."""
    return tracer.start_as_current_span(
        name, context=context_from(traceparent), kind=SpanKind.CONSUMER, attributes=dict(attributes)
    )
