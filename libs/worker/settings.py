"""Settings both workers share; each service subclasses them with its own prefix and defaults."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import socket
from typing import ClassVar

from libs.runtime.auth import (
    CatalogueClientSettings,
    ClientSecurity,
    ServerSecurity,
    ServerSecuritySettings,
)
from libs.runtime.errors import InvalidArgument
from libs.storage import open_storage
from libs.storage.config import ObjectStoreConfig, ObjectStoreSettings
from libs.storage.durability import DEFAULT_SYNC


@dataclasses.dataclass(frozen=True)
class WorkerSettings(ObjectStoreSettings, ServerSecuritySettings, CatalogueClientSettings):
    # (Tokens and TLS: of the worker's own server, ServerSecuritySettings; towards the catalogue,
    # CatalogueClientSettings; libs/runtime/auth.py.)
    PREFIX: ClassVar[str] = "GEOCUBE_WORKER_"

    # gRPC address (host:port) of the catalogue, which serves the Tasks and Registry services. Required.
    catalogue_address: str = ""
    # The worker's own gRPC server (GetStatus, health, reflection); port 0 picks a free one.
    address: str = "127.0.0.1:0"
    # Default storage root (absolute path, file://, s3://bucket[/prefix] or gs://bucket[/prefix]); a scene's
    # data.storage_uri overrides it. Required.
    storage_uri: str = ""
    # Other storage roots a scene's own `storage_uri` (from its payload) may name, comma-separated; a scene
    # storage outside these and `storage_uri` fails fatally (a payload must not choose where we write).
    storage_allowed_uris: tuple[str, ...] = ()
    # (The object-store connection fields come from ObjectStoreSettings: docs/storage.md.)
    # Bytes above which an upload to s3:// or gs:// is a multipart upload (at least 5 MiB).
    storage_multipart_threshold: int = 64 * 1024 * 1024
    # How a stored file is made durable on local storage: "filesystem" (syncfs barriers shared by the
    # files being stored at that moment) or "files" (an fsync per file and folder); docs/storage.md.
    storage_sync: str = DEFAULT_SYNC
    # Parent of the per-task working directories; "" = a temporary folder removed at stop.
    workdir: str = ""
    # Tasks run at the same time by this process.
    concurrency: int = 2
    # Extra folders searched for graph files, before the built-in library (comma-separated).
    graph_path: tuple[str, ...] = ()
    # Name shown in leases and logs; "" = <hostname>-<pid>.
    worker_id: str = ""
    # Prometheus metrics HTTP server (host:port, e.g. 0.0.0.0:9102; port 0 picks one). Empty: none.
    metrics_address: str = ""
    # Long-poll bound of one LeaseTask call, seconds.
    lease_wait_seconds: float = 30.0
    # On SIGTERM: how long running tasks may take to finish before they are left to lease expiry.
    stop_grace_seconds: float = 30.0
    log_level: str = "INFO"
    log_json: bool = False

    def check(self) -> None:
        """Raises InvalidArgument naming the environment variable of the first unusable setting."""
        if not self.catalogue_address.strip():
            raise InvalidArgument(
                self.PREFIX + "CATALOGUE_ADDRESS", "required: host:port of the catalogue's gRPC server"
            )
        if not self.storage_uri.strip():
            raise InvalidArgument(
                self.PREFIX + "STORAGE_URI",
                "required: absolute path, file://, s3://bucket[/prefix] or gs://bucket[/prefix] URI",
            )
        self.object_store().check(self.PREFIX)
        for name, uris in (
            ("STORAGE_URI", [self.storage_uri]),
            ("STORAGE_ALLOWED_URIS", self.storage_allowed_uris),
        ):
            for uri in uris:
                try:
                    open_storage(uri, self.object_store())  # parses the URI; no I/O
                except InvalidArgument as exc:
                    raise InvalidArgument(self.PREFIX + name, exc.reason) from None
        if self.concurrency < 1:
            raise InvalidArgument(self.PREFIX + "CONCURRENCY", f"must be at least 1, got {self.concurrency}")
        if self.lease_wait_seconds < 0:
            raise InvalidArgument(self.PREFIX + "LEASE_WAIT_SECONDS", "must not be negative")
        self.server_security()
        self.catalogue_security()

    def server_security(self) -> ServerSecurity:
        return ServerSecurity.from_settings(self, self.PREFIX, self.address)

    def catalogue_security(self) -> ClientSecurity:
        return ClientSecurity.for_catalogue(self, self.PREFIX)

    def object_store(self) -> ObjectStoreConfig:
        """The object-store settings `open_storage` takes."""
        return ObjectStoreConfig.from_settings(self)

    def resolved_worker_id(self) -> str:
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"

    def graph_folders(self) -> list[pathlib.Path]:
        return [pathlib.Path(folder) for folder in self.graph_path]

    def archive_folders(self) -> list[str]:
        """Local folders products are read from (hidden from reported messages, see redact.py)."""
        return []
