"""Logging set-up, called once by each process's main(): text locally, JSON lines in the cluster.

Every record carries the context of the work it belongs to: the request id (from the gateway, through
gRPC metadata), the trace id, and the AOI, scene, tile and task being worked on. They live in a context
variable, bound by `bind()` for the duration of a request or a task; asyncio tasks and `to_thread`
calls copy it, so the log lines of a graph step or a provider's thread carry them too. A log call's own
`extra=` values win over the bound ones.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace

# Keys that log calls pass through `extra=` or bind(), and that both formatters print (stable names).
CONTEXT_KEYS = ("request_id", "trace_id", "span_id", "aoi", "scene_id", "tile_id", "task_id", "worker_id")

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "geocube_log_context", default=_EMPTY
)


def current() -> dict[str, Any]:
    """The bound context (a copy)."""
    return dict(_context.get())


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Adds `fields` (None and "" are left out) to every record logged in this context until exit."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v not in (None, "")}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (attributes a log call set itself are kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        # The current span (OpenTelemetry keeps it in a context variable too): the log line finds its trace.
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    return {key: getattr(record, key) for key in CONTEXT_KEYS if getattr(record, key, None) not in (None, "")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [request_id=… task_id=…]`: the context at the end, where it does not
    push the message out of sight."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context_of(record)
        context.pop("span_id", None)  # the trace id finds the trace; the span id is noise in a terminal
        if not context:
            return text
        suffix = " ".join(f"{key}={value}" for key, value in context.items())
        first, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{first} [{suffix}]{newline}{rest}"


def configure(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
