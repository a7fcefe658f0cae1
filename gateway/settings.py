"""Settings of the HTTP gateway (env prefix GEOCUBE_GATEWAY_)."""

from __future__ import annotations

import dataclasses

from libs.runtime.auth import CatalogueClientSettings
from libs.runtime.errors import InvalidArgument

PREFIX = "GEOCUBE_GATEWAY_"


@dataclasses.dataclass(frozen=True)
class GatewaySettings(CatalogueClientSettings):
    # (Token and TLS towards the catalogue: the fields of CatalogueClientSettings, libs/runtime/auth.py.)
    # HTTP listen address (host:port; port 0 picks a free one).
    address: str = "127.0.0.1:8080"
    # gRPC address of the catalogue (serves the Catalogue and Registry services).
    catalogue_address: str = "127.0.0.1:50051"
    # Accepted bearer tokens (comma-separated in the environment). Empty: no authentication, as the
    # reference without --bearer-auth.
    bearer_tokens: tuple[str, ...] = ()
    # Largest request body accepted by the form endpoints (the reference parses 32 MiB in memory).
    max_upload_bytes: int = 32 * 1024 * 1024
    # Deadline of the quick gRPC calls (monitoring reads, registry).
    rpc_timeout_seconds: float = 30.0
    # Deadline of the catalogue calls that may query external catalogues (search, tiling, ingestion).
    catalogue_timeout_seconds: float = 600.0
    # Slow clients (docs/api.md, "Input limits"): seconds to send a complete request head (from the
    # connection or the previous answer), and to send the whole body (from the head).
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 120.0
    # Public root URL of the gateway behind a proxy (e.g. https://example.org/ingester); empty: the links of
    # the STAC API are built from the request's own URL.
    public_url: str = ""
    log_level: str = "INFO"
    log_json: bool = False

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.address.rpartition(":")
        if not sep or not port.isdigit():
            raise InvalidArgument(f"{PREFIX}ADDRESS", f"expected host:port, got {self.address!r}")
        return host.strip("[]") or "0.0.0.0", int(port)
