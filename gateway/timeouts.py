"""Read deadlines against slow clients (slowloris): uvicorn has none for request headers or bodies, so
100 connections sending a header byte now and then, or a body at 1 byte/s, were held open forever.

- `HeaderDeadlineProtocol` (uvicorn's h11 protocol) closes a connection that has not sent a complete
  request head within `header_timeout` of connecting or of its previous response, and one whose
  response is sent but that keeps trickling an unread body.
- `BodyDeadlineMiddleware` gives the application `body_timeout` from the request head to receive the
  whole body; past it, reading raises a 408 and the connection is closed after the answer.
"""

from __future__ import annotations

import asyncio

import h11
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.errors import GatewayError


def header_deadline_protocol(header_timeout: float) -> type[H11Protocol]:
    """The protocol class for uvicorn's `http` option, with the given deadline in seconds."""

    class _Protocol(HeaderDeadlineProtocol):
        timeout_header = header_timeout

    return _Protocol


class HeaderDeadlineProtocol(H11Protocol):
    timeout_header = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.timeout_header, self._expired)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expired(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        # A request being handled is the body deadline's business (and a long-poll may be legitimately
        # quiet); between requests nothing should take this long.
        if self.cycle is not None and not self.cycle.response_complete:
            return
        if self.conn.our_state not in (h11.ERROR, h11.CLOSED):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


class BodyDeadlineMiddleware:
    """Bounds the time to receive a request's body, counted from the request head."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        headers = Headers(scope=scope)
        # Without a body there is nothing to time: a later receive() only waits for a disconnect.
        complete = headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers
        expired = False

        async def receive_in_time() -> Message:
            nonlocal complete, expired
            if complete:
                # After the body only a disconnect can come (a long-poll listens for it): no deadline.
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                expired = True
                raise GatewayError(
                    408, f"request body not received within {self.timeout:g} seconds"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def send_closing(message: Message) -> None:
            if expired and message["type"] == "http.response.start":
                # The rest of the body will not be read: the connection cannot carry another request.
                MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        await self.app(scope, receive_in_time, send_closing)
