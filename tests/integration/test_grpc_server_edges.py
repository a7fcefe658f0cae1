"""Edges of the real gRPC server every service runs (libs/runtime/server.py): the RPC metrics with
tokens (a caller's invented method paths never become label values, each would be a series for ever, yet
the refused calls are counted), and a busy port."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from libs.runtime.auth import ServerSecurity
from libs.runtime.errors import Unavailable
from libs.runtime.server import start_server

TIMEOUT = 30.0


async def test_invented_methods_are_counted_under_one_label() -> None:
    registry = CollectorRegistry()
    server = await start_server(
        "127.0.0.1:0", [], [], security=ServerSecurity(tokens=(b"secret",)), registry=registry
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            for i in range(5):
                try:
                    await channel.unary_unary(f"/ingester.v1.Nope{i}/Foo{i}")(b"", timeout=TIMEOUT)
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
                else:
                    raise AssertionError("an invented method answered")
            health = health_pb2_grpc.HealthStub(channel)
            await health.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
    finally:
        await server.stop(0)
    handled: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == "grpc_server_handled_total":
                key = (
                    sample.labels["grpc_service"],
                    sample.labels["grpc_method"],
                    sample.labels["grpc_code"],
                )
                handled[key] = sample.value
    assert handled == {
        ("unknown", "unknown", "UNAUTHENTICATED"): 5,
        ("grpc.health.v1.Health", "Check", "OK"): 1,
    }


async def test_a_busy_port_is_a_start_up_error() -> None:
    # gRPC binds with SO_REUSEPORT unless told otherwise: a second server would share the port silently.
    first = await start_server("127.0.0.1:0", [], [])
    try:
        with pytest.raises(Unavailable, match=f"cannot listen on 127.0.0.1:{first.port}"):
            second = await start_server(f"127.0.0.1:{first.port}", [], [])
            await second.stop(0)
    finally:
        await first.stop(0)
