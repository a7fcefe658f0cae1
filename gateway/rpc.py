"""The gateway's gRPC client of the catalogue process (Catalogue and Registry services).

Every call carries a deadline and the request id (metadata `x-request-id`); a gRPC error becomes a
GatewayError through the one error table (body = the status details).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from gateway.errors import GatewayError
from protos.ingester.v1 import catalogue_pb2_grpc, registry_pb2_grpc
from services.runtime.errors import http_status

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CatalogueClient:
    """Holds the channel (created on first use, inside the serving event loop, unless one is given)."""

    def __init__(self, address: str, channel: grpc.aio.Channel | None = None) -> None:
        self._address = address
        self._channel = channel
        self._owns_channel = channel is None
        self._catalogue: catalogue_pb2_grpc.CatalogueStub | None = None
        self._registry: registry_pb2_grpc.RegistryStub | None = None

    def _ensure(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._address)
        return self._channel

    @property
    def catalogue(self) -> catalogue_pb2_grpc.CatalogueStub:
        if self._catalogue is None:
            self._catalogue = catalogue_pb2_grpc.CatalogueStub(self._ensure())
        return self._catalogue

    @property
    def registry(self) -> registry_pb2_grpc.RegistryStub:
        if self._registry is None:
            self._registry = registry_pb2_grpc.RegistryStub(self._ensure())
        return self._registry

    async def close(self) -> None:
        if self._owns_channel and self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._catalogue = self._registry = None


async def call(
    method: Callable[..., Awaitable[T]],
    request: Any,
    *,
    timeout: float,
    request_id: str,
    not_found_body: str | None = None,
) -> T:
    """Runs one unary call. `not_found_body` replaces the body of a NOT_FOUND answer (the reference
    answers an empty 404 for unknown scenes and tiles)."""
    try:
        return await method(request, timeout=timeout, metadata=(("x-request-id", request_id),))
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        details = exc.details() or code.name
        if code == grpc.StatusCode.NOT_FOUND and not_found_body is not None:
            raise GatewayError(404, not_found_body) from None
        status = http_status(code)
        log = logger.warning if status >= 500 else logger.info
        log("catalogue answered %s: %s", code.name, details, extra={"request_id": request_id})
        raise GatewayError(status, details) from None
