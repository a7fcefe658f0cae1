"""Slow clients against the real gateway over real sockets: a connection that trickles its request head,
or its body, is closed (the assertions are on closure; the deadlines only bound a hung test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.app import RunningGateway, serve
from gateway.settings import GatewaySettings

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
# Generous: closure must happen, its exact moment is not under test.
DEADLINE = 30.0
TRICKLE = 0.05


@pytest.fixture
async def gateway() -> AsyncIterator[RunningGateway]:
    # No catalogue listens at that address: nothing here gets as far as a gRPC call.
    settings = GatewaySettings(
        address="127.0.0.1:0",
        catalogue_address="127.0.0.1:9",
        header_timeout_seconds=HEADER_TIMEOUT,
        body_timeout_seconds=BODY_TIMEOUT,
    )
    running = await asyncio.wait_for(serve(settings), DEADLINE)
    yield running
    await asyncio.wait_for(running.stop(), DEADLINE)


async def _trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunk: bytes
) -> bytes:
    """Sends `chunk` every TRICKLE seconds until the server closes; returns what the server sent."""
    received = b""
    async with asyncio.timeout(DEADLINE):
        while True:
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break
            try:
                data = await asyncio.wait_for(reader.read(65536), TRICKLE)
            except TimeoutError:
                continue
            except ConnectionError:
                break
            if not data:
                break
            received += data
    writer.close()
    return received


async def test_slow_header_connections_are_closed(gateway: RunningGateway) -> None:
    async def slow_client() -> bytes:
        reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        # One more header line at a time, never the blank line ending the head.
        return await _trickle_until_closed(reader, writer, b"X-Slow: y\r\n")

    answers = await asyncio.gather(*(slow_client() for _ in range(100)))
    assert answers == [b""] * 100
    # The server still answers a normal client.
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ingester ok")


async def test_silent_connection_is_closed(gateway: RunningGateway) -> None:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b""
    writer.close()


async def test_slow_body_answers_408_and_closes(gateway: RunningGateway) -> None:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    writer.write(b"PUT /scene/1/data HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
    answer = await _trickle_until_closed(reader, writer, b" ")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert body == f"request body not received within {BODY_TIMEOUT:g} seconds".encode()


async def test_unread_body_after_the_answer_is_closed(gateway: RunningGateway) -> None:
    """`GET /` does not read its body: a client trickling one after the answer is closed too."""
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    answer = await _trickle_until_closed(reader, writer, b" ")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ingester ok")


async def test_keep_alive_connection_serves_requests_sent_in_time(gateway: RunningGateway) -> None:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    for _ in range(3):
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await asyncio.wait_for(reader.readexactly(len(b"ingester ok")), DEADLINE) == b"ingester ok"
    writer.close()
