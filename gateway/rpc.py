"""The gateway's gRPC client of the catalogue process (Catalogue, Workflow and Registry services).

Every call carries a deadline, the request id (metadata `x-request-id`) and the trace context
(`traceparent`); a gRPC error becomes a GatewayError through the one error table (body = the status
details).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import grpc

from gateway.errors import GatewayError
from protos.ingester.v1 import catalogue_pb2_grpc, registry_pb2_grpc, workflow_pb2_grpc
from libs.runtime import tracing
from libs.runtime.auth import ClientSecurity
from libs.runtime.channels import catalogue_channel
from libs.runtime.errors import http_status

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CatalogueClient:
    """Holds the channel (created on first use, inside the serving event loop, unless one is given)."""

    def __init__(
        self, address: str, channel: grpc.aio.Channel | None = None, security: ClientSecurity | None = None
    ) -> None:
        self._address = address
        self._security = security
        self._channel = channel
        self._owns_channel = channel is None
        self._catalogue: catalogue_pb2_grpc.CatalogueStub | None = None
        self._registry: registry_pb2_grpc.RegistryStub | None = None
        self._workflow: workflow_pb2_grpc.WorkflowStub | None = None

    def _ensure(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = catalogue_channel(self._address, self._security)
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

    @property
    def workflow(self) -> workflow_pb2_grpc.WorkflowStub:
        if self._workflow is None:
            self._workflow = workflow_pb2_grpc.WorkflowStub(self._ensure())
        return self._workflow

    async def close(self) -> None:
        if self._owns_channel and self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._catalogue = self._registry = self._workflow = None


async def call(
    method: Callable[..., Awaitable[T]],
    request: Any,
    *,
    timeout: float,
    request_id: str,
    empty: Collection[grpc.StatusCode] = (),
) -> T:
    """Runs one unary call. A status in `empty` answers its HTTP status with an empty body (the
    reference answers an empty 404 for unknown scenes and tiles, an empty 409 for an existing AOI)."""
    try:
        # The request id and the trace context: the channel may be one made without our interceptor.
        metadata = tracing.outgoing_metadata([(tracing.REQUEST_ID_KEY, request_id)])
        return await method(request, timeout=timeout, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        details = exc.details() or code.name
        status = http_status(code)
        log = logger.warning if status >= 500 else logger.info
        log("catalogue answered %s: %s", code.name, details, extra={"request_id": request_id})
        raise GatewayError(status, "" if code in empty else details) from None
