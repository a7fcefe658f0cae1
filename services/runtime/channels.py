"""Client channels to the catalogue, shared by the workers and the gateway."""

from __future__ import annotations

import grpc

from services.runtime.tracing import ClientInterceptor

# gRPC's own reconnection backoff grows to 2 minutes by default: after a catalogue restart a worker would
# sit idle, and the gateway answer 503, that long. Callers already back off (the lease loop) or answer
# at once (the gateway), so reconnect attempts stay frequent.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


def catalogue_channel(address: str) -> grpc.aio.Channel:
    # Every call carries the trace context and the request id of the work it is made for.
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=[ClientInterceptor()])
