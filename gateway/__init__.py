"""HTTP gateway: the reference system's HTTP API over the catalogue's gRPC services."""
