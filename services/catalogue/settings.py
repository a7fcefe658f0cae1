"""Settings of the catalogue process (env prefix GEOCUBE_CATALOGUE_)."""

from __future__ import annotations

import dataclasses

PREFIX = "GEOCUBE_CATALOGUE_"


@dataclasses.dataclass(frozen=True)
class CatalogueSettings:
    # PostgreSQL connection string. Empty: the command-line tool starts an embedded PostgreSQL; the
    # standard PG* variables are honoured by libpq for any part the DSN leaves out.
    database_dsn: str = ""
    # gRPC listen address (host:port; port 0 picks a free one).
    address: str = "127.0.0.1:50051"
    # Folder of products served by the local archive scene source ("" = none).
    archive_path: str = ""
    # A leased task whose worker sends no heartbeat for this long goes back to the queue.
    lease_seconds: float = 60.0
    # Attempts of a task failing transiently (or losing its lease) before its item ends FAILED.
    max_attempts: int = 5
    # Database connection pool size.
    pool_size: int = 10
    log_level: str = "INFO"
    log_json: bool = False
