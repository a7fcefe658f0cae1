"""Telemetry of the services as separate processes, configured only by the environment: the standard
OTEL_* variables send spans to a local OTLP/gRPC receiver (the protocol an OpenTelemetry collector
speaks), JSON log lines carry the request and trace ids, and the metrics port answers."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from libs.stack.processes import free_port
from tests.e2e.conftest import Service


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Collects exported spans as (service.name, span) pairs; `wait(predicate)` blocks until they fit."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []
        self._changed = threading.Condition()

    def Export(self, request: Any, context: Any) -> Any:
        with self._changed:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((attributes.get("service.name", ""), s) for s in scope_spans.spans)
            self._changed.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait(self, predicate: Any, timeout: float = 60) -> list[tuple[str, Any]]:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.spans), timeout), (
                f"spans received: {[(name, span.name) for name, span in self.spans]}"
            )
            return list(self.spans)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    servicer = Receiver()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(grace=1).wait(5)


@pytest.mark.e2e
def test_spans_reach_an_otlp_collector_and_logs_carry_the_ids(
    services: list[Service], pg_dsn: str, receiver: tuple[Receiver, int]
) -> None:
    collector, collector_port = receiver
    otel = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: export soon, the test waits for the spans
    }
    grpc_port, metrics_port, http_port = free_port(), free_port(), free_port()
    catalogue = Service("catalogue", "services.catalogue", {
        **otel,
        "GEOCUBE_CATALOGUE_DATABASE_DSN": pg_dsn,
        "GEOCUBE_CATALOGUE_ADDRESS": f"127.0.0.1:{grpc_port}",
        "GEOCUBE_CATALOGUE_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    })
    services.append(catalogue)
    catalogue.wait_for("catalogue listening")
    gateway = Service("gateway", "gateway", {
        **otel,
        "GEOCUBE_GATEWAY_ADDRESS": f"127.0.0.1:{http_port}",
        "GEOCUBE_GATEWAY_CATALOGUE_ADDRESS": f"127.0.0.1:{grpc_port}",
        "GEOCUBE_GATEWAY_LOG_JSON": "true",
    })
    services.append(gateway)
    gateway.wait_for(f"127.0.0.1:{http_port}")

    trace_id, request_id = secrets.token_hex(16), "e2e-" + secrets.token_hex(4)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01", "X-Request-ID": request_id}
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as client:
        answer = client.get("/aoi/", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-Id"] == request_id
        metrics = client.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert metrics.status_code == 200

    def ours(spans: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [(name, span) for name, span in spans if span.trace_id.hex() == trace_id]

    spans = ours(collector.wait(lambda spans: {n for n, _ in ours(spans)} >= {"geocube-gateway", "geocube-catalogue"}))
    (request,) = [span for name, span in spans if name == "geocube-gateway" and span.name == "GET /aoi/"]
    (rpc,) = [span for name, span in spans if name == "geocube-catalogue"]
    assert rpc.name == "ingester.v1.Catalogue/ListAois"
    assert rpc.parent_span_id == request.span_id  # the catalogue continued the gateway's span

    # The gateway's JSON access line: the request id it echoed and the trace id of the request.
    line = gateway.wait_for(request_id)
    entry = json.loads(line)
    assert entry["request_id"] == request_id and entry["trace_id"] == trace_id

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
    }
    labels = (("grpc_code", "OK"), ("grpc_method", "ListAois"), ("grpc_service", "ingester.v1.Catalogue"))
    assert samples[("grpc_server_handled_total", labels)] == 1
