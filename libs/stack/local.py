"""Starts the catalogue and the gateway in this process and the two workers as child processes, on
loopback, over one database.

With no DSN configured, an embedded PostgreSQL is started in `<workdir>/pg`; with no archive configured,
the local archive is `<workdir>/archive`. The same code paths as the separate services are used, so what
runs here is what runs on Kubernetes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import secrets
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry

from gateway import app as gateway_app
from gateway.settings import GatewaySettings
from services.catalogue import app as catalogue_app
from services.catalogue.settings import PREFIX as CATALOGUE_PREFIX
from services.catalogue.settings import CatalogueSettings
from libs.runtime.embedded_pg import EmbeddedPostgres
from libs.runtime.settings import from_env
from libs.stack.processes import WorkerProcess

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class StackConfig:
    workdir: pathlib.Path
    database_dsn: str = ""
    archive_path: str = ""
    storage_uri: str = ""
    http_address: str = "127.0.0.1:8080"
    catalogue_address: str = "127.0.0.1:50051"
    token: str = ""
    # The token every gRPC service accepts and every client sends ("" = a random one per start).
    grpc_token: str = ""
    concurrency: int = 2
    worker_log_level: str = "WARNING"


@dataclasses.dataclass
class Stack:
    config: StackConfig
    gateway_url: str
    catalogue_target: str
    storage_path: pathlib.Path
    archive_path: pathlib.Path
    database_dsn: str
    token: str
    grpc_token: str
    _stoppers: list[Callable[[], Awaitable[None]]]
    # The in-process catalogue's metrics (RPC counts by method, queue metrics): what benchmarks read.
    catalogue_metrics: CollectorRegistry | None = None

    async def stop(self) -> None:
        # Reverse order: the gateway first (no new requests), the database last.
        for stop in reversed(self._stoppers):
            try:
                await stop()
            except Exception:
                logger.exception("error while stopping")


def _embedded(path: pathlib.Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    server = EmbeddedPostgres(path)
    dsn = server.start()

    async def stop() -> None:
        server.stop()

    return dsn, stop


def _mirrored(name: str) -> tuple[str, ...]:
    """GEOCUBE_CATALOGUE_<name> when set, else the union of the workers' <name> lists: the catalogue
    checks payloads against what the workers will accept."""
    if CATALOGUE_PREFIX + name in os.environ:
        return tuple(getattr(from_env(CatalogueSettings, CATALOGUE_PREFIX), name.lower()))
    values: list[str] = []
    for prefix in ("GEOCUBE_DOWNLOADER_", "GEOCUBE_PROCESSOR_"):
        for value in os.environ.get(prefix + name, "").split(","):
            if value.strip() and value.strip() not in values:
                values.append(value.strip())
    return tuple(values)


async def start_stack(config: StackConfig) -> Stack:
    workdir = config.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stoppers: list[Callable[[], Awaitable[None]]] = []
    stack = None
    try:
        dsn = config.database_dsn
        if not dsn:
            dsn, stop_pg = _embedded(workdir / "pg")
            stoppers.append(stop_pg)
        archive = pathlib.Path(config.archive_path or workdir / "archive").resolve()
        archive.mkdir(parents=True, exist_ok=True)
        storage = pathlib.Path(config.storage_uri or workdir / "storage").resolve()
        storage.mkdir(parents=True, exist_ok=True)
        token = config.token or secrets.token_urlsafe(16)
        grpc_token = config.grpc_token or secrets.token_urlsafe(32)

        # The command's options win; every other GEOCUBE_CATALOGUE_* variable (scene sources, annotation
        # places, object stores…) applies as it would to `geocube-ingester catalogue`.
        catalogue = await catalogue_app.start(
            from_env(
                CatalogueSettings,
                CATALOGUE_PREFIX,
                database_dsn=dsn,
                address=config.catalogue_address,
                archive_path=str(archive),
                # Ingestion checks payloads against the workers' storage root and graph folders.
                storage_uri=str(storage),
                storage_allowed_uris=_mirrored("STORAGE_ALLOWED_URIS"),
                graph_path=_mirrored("GRAPH_PATH"),
                auth_tokens=(grpc_token,),
            )
        )
        stoppers.append(catalogue.stop)
        common = {
            "catalogue_address": catalogue.target,
            "storage_uri": str(storage),
            "concurrency": str(config.concurrency),
            "workdir": str(workdir / "work"),
            "log_level": config.worker_log_level,
            # Passed in the environment of the child, as a Kubernetes Secret's env-from would.
            "auth_tokens": grpc_token,
            "catalogue_token": grpc_token,
        }
        for name, extra in (("downloader", {"local_path": str(archive)}), ("processor", {})):
            worker = await WorkerProcess.start(name, {**common, **extra})
            stoppers.append(worker.stop)
        http = await gateway_app.serve(
            GatewaySettings(
                address=config.http_address,
                catalogue_address=catalogue.target,
                bearer_tokens=(token,),
                catalogue_token=grpc_token,
            )
        )
        stoppers.append(http.stop)
        stack = Stack(
            config, http.url, catalogue.target, storage, archive, dsn, token, grpc_token, stoppers,
            catalogue.registry,
        )
        return stack
    finally:
        if stack is None:
            for stop in reversed(stoppers):
                await stop()
