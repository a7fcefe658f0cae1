"""A catalogue that cannot start gives back what it opened: a caller (the CLI, a supervisor) retrying the
start must not pile up database connections."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from services.catalogue import app
from services.catalogue.settings import CatalogueSettings
from libs.runtime.errors import IngesterError

TIMEOUT = 30.0


async def _connections(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_a_grpc_address_it_cannot_bind_closes_the_pool_and_the_listener(pg_dsn: str) -> None:
    first = await asyncio.wait_for(
        app.start(CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0")), TIMEOUT
    )
    try:
        opened_by_one = await _connections(pg_dsn)
        assert opened_by_one >= 3  # the pool's minimum (2) and the LISTEN connection
        for _ in range(3):
            with pytest.raises((IngesterError, RuntimeError)):
                # TEST-NET-1 (RFC 5737): no local interface has it, so binding fails after the pool opened.
                # (A busy port would not do: gRPC binds with SO_REUSEPORT.)
                settings = CatalogueSettings(
                    database_dsn=pg_dsn, address="192.0.2.1:50051", auth_tokens=("t",)
                )
                await asyncio.wait_for(app.start(settings), TIMEOUT)
        # A leaking start keeps its 3 connections for good (3 starts: 9). A closed connection's backend
        # exits as soon as it reads the client's goodbye, which may lag the close: 2 such stragglers are
        # tolerated (no poll), one leaked start is not.
        assert await _connections(pg_dsn) <= opened_by_one + 2
    finally:
        await asyncio.wait_for(first.stop(grace=0.5), TIMEOUT)
