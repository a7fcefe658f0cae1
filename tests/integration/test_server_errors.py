"""The error interceptor of a real grpc.aio server: domain errors, bugs, and the catalogue's database outages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import psycopg
import pytest
from psycopg_pool import PoolTimeout

from services.catalogue.app import database_errors
from libs.runtime.errors import NotFound
from libs.runtime.server import start_server

RAISED: dict[str, Exception] = {
    "domain": NotFound("scene 7 not found"),
    "bug": ValueError("oops"),
    "connection": psycopg.OperationalError("server closed the connection unexpectedly"),
    "pool": PoolTimeout("couldn't get a connection after 30.00 sec"),
    "too long": psycopg.errors.ProgramLimitExceeded(
        "index row size 3016 exceeds btree version 4 maximum 2704"
    ),
    "nul": psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
}


async def _raise(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RAISED[request.decode()]


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    def register(server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            "test.Boom", {"Raise": grpc.unary_unary_rpc_method_handler(_raise)}
        )
        server.add_generic_rpc_handlers((handler,))

    server = await start_server("127.0.0.1:0", [register], ["test.Boom"], translate=database_errors)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan
    await server.stop(0.5)


@pytest.mark.parametrize(
    ("kind", "code", "details"),
    [
        ("domain", grpc.StatusCode.NOT_FOUND, "scene 7 not found"),
        ("bug", grpc.StatusCode.INTERNAL, "internal error in /test.Boom/Raise"),
        # A database outage is retriable: callers back off instead of failing their task for good.
        ("connection", grpc.StatusCode.UNAVAILABLE, "database unavailable, retry later"),
        ("pool", grpc.StatusCode.UNAVAILABLE, "database unavailable, retry later"),
        # A value PostgreSQL can never store is the request's fault (ProgramLimitExceeded is an
        # OperationalError for psycopg, like a lost connection).
        (
            "too long",
            grpc.StatusCode.INVALID_ARGUMENT,
            "request: a value is too long to be stored (shorten names and ids)",
        ),
        (
            "nul",
            grpc.StatusCode.INVALID_ARGUMENT,
            "request: a value the database cannot store: PostgreSQL text fields cannot contain NUL (0x00) bytes",
        ),
    ],
)
async def test_error_table(channel: grpc.aio.Channel, kind: str, code: grpc.StatusCode, details: str) -> None:
    call = channel.unary_unary("/test.Boom/Raise")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(kind.encode(), timeout=10)
    assert raised.value.code() == code
    assert raised.value.details() == details
