"""The telemetry settings: OTEL_* exporter selection (nothing exported by default), metrics addresses,
and the log formats (JSON keys, the text suffix, the bound context)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from libs.runtime import logs, metrics, tracing
from libs.runtime.errors import InvalidArgument


def _exporters(provider: object) -> list[object]:
    processors = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
    return [processor.span_exporter for processor in processors if isinstance(processor, BatchSpanProcessor)]


def test_nothing_is_exported_unless_asked() -> None:
    provider = tracing.build_provider("geocube-test", {})
    try:
        assert _exporters(provider) == []
        assert provider.resource.attributes["service.name"] == "geocube-test"
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("env", "module"),
    [
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        ),
    ],
)
def test_otlp_exporter_follows_the_protocol_variable(env: dict[str, str], module: str) -> None:
    env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SERVICE_NAME": "renamed"}
    provider = tracing.build_provider("geocube-test", env)
    try:
        (exporter,) = _exporters(provider)
        assert type(exporter).__module__ == module
        assert provider.resource.attributes["service.name"] == "renamed"
    finally:
        provider.shutdown()  # nothing was recorded: nothing is sent


def test_console_exporter_and_lists() -> None:
    provider = tracing.build_provider("geocube-test", {"OTEL_TRACES_EXPORTER": "console, none"})
    try:
        (exporter,) = _exporters(provider)
        assert isinstance(exporter, ConsoleSpanExporter)
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ],
)
def test_unknown_exporter_settings_are_refused_by_name(env: dict[str, str], name: str) -> None:
    with pytest.raises(InvalidArgument, match=name):
        tracing.build_provider("geocube-test", env)


@pytest.mark.parametrize("address", ["9101", "localhost", "host:port"])
def test_metrics_address_must_be_host_port(address: str) -> None:
    with pytest.raises(InvalidArgument, match="GEOCUBE_X_METRICS_ADDRESS"):
        metrics.serve("GEOCUBE_X_METRICS_ADDRESS", address, metrics.CollectorRegistry())


def test_empty_metrics_address_serves_nothing() -> None:
    assert metrics.serve("GEOCUBE_X_METRICS_ADDRESS", "", metrics.CollectorRegistry()) is None


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("services.test", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    logs.ContextFilter().filter(record)
    return record


def test_json_lines_carry_the_bound_context_and_extra_wins() -> None:
    with logs.bind(request_id="r-1", aoi="Denmark", scene_id=7, task_id=None), logs.bind(tile_id=3):
        entry = json.loads(logs.JsonFormatter().format(_record("hello", task_id=42)))
    assert entry["message"] == "hello" and entry["level"] == "INFO"
    assert {k: entry[k] for k in ("request_id", "aoi", "scene_id", "tile_id", "task_id")} == {
        "request_id": "r-1", "aoi": "Denmark", "scene_id": 7, "tile_id": 3, "task_id": 42,
    }
    # Outside the bind, nothing is left behind.
    assert "request_id" not in json.loads(logs.JsonFormatter().format(_record("after")))


def test_text_lines_end_with_the_context() -> None:
    with logs.bind(request_id="r-2", task_id=5):
        text = logs.TextFormatter().format(_record("working"))
    assert text.endswith("services.test: working [request_id=r-2 task_id=5]")
    assert logs.TextFormatter().format(_record("plain")).endswith("services.test: plain")


def test_configure_installs_the_formatter_and_filter() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logs.configure("INFO", json_lines=True)
        (handler,) = root.handlers
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        with logs.bind(request_id="r-3"):
            logging.getLogger("services.test").info("configured")
        entry = json.loads(stream.getvalue())
        assert entry["request_id"] == "r-3" and entry["message"] == "configured"
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
