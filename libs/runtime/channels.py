"""Client channels to our gRPC services (the catalogue, a worker's status), shared by the workers and the
gateway, with the caller's credentials (libs/runtime/auth.py)."""

from __future__ import annotations

from typing import Any

import grpc

from libs.runtime.auth import ClientSecurity
from libs.runtime.tracing import ClientInterceptor

# gRPC's own reconnection backoff grows to 2 minutes by default: after a catalogue restart a worker would
# sit idle, and the gateway answer 503, that long. Callers already back off (the lease loop) or answer
# at once (the gateway), so reconnect attempts stay frequent.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


class _BearerMetadata:
    """Adds `authorization: Bearer <token>` to every call of a plaintext channel. gRPC refuses to send
    call credentials without TLS (security level too low), yet a token on a plaintext channel inside a
    NetworkPolicy-fenced namespace is a supported set-up, so the metadata is added here instead."""

    def __init__(self, token: str):
        self._value = f"Bearer {token}"

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", self._value)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# grpc.aio files an interceptor under the first of the four kinds it is an instance of: one class each.
class _UnaryUnary(_BearerMetadata, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request)


class _UnaryStream(_BearerMetadata, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request)


class _StreamUnary(_BearerMetadata, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStream(_BearerMetadata, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(self._details(client_call_details), request_iterator)


def channel(address: str, security: ClientSecurity | None = None) -> grpc.aio.Channel:
    """A channel to one of our services: TLS when `security` has a CA (the token then goes as call
    credentials), plaintext otherwise (the token then goes as metadata)."""
    security = security or ClientSecurity()
    if security.tls:
        credentials: Any = grpc.ssl_channel_credentials(security.ca, security.key, security.cert)
        if security.token:
            credentials = grpc.composite_channel_credentials(
                credentials, grpc.access_token_call_credentials(security.token)
            )
        # Every call carries the trace context and the request id of the work it is made for.
        return grpc.aio.secure_channel(
            address, credentials, options=CHANNEL_OPTIONS, interceptors=[ClientInterceptor()]
        )
    interceptors: list[Any] = [ClientInterceptor()]
    if security.token:
        interceptors += [kind(security.token) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=interceptors)


def catalogue_channel(address: str, security: ClientSecurity | None = None) -> grpc.aio.Channel:
    return channel(address, security)
