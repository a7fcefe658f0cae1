"""Assembles the catalogue process: database pool and migrations, scene sources, task queue and the
gRPC servers. `start()` is used by `python -m services.catalogue`, the CLI and the tests alike."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pathlib
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from protos.ingester.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    tasks_pb2,
    tasks_pb2_grpc,
    workflow_pb2,
    workflow_pb2_grpc,
)
from services.catalogue import metrics, migrations, pool_check, tiling
from services.catalogue.bursts.annotations import RemoteAccess, origin_of
from services.catalogue.ingestion import Ingestion
from services.catalogue.payload import Placement
from services.catalogue.servicers.registry import RegistryServicer
from services.catalogue.search import sources as scene_sources
from services.catalogue.search.archive_source import ArchiveSource
from services.catalogue.search.inventory import SceneInventory, SceneSource
from services.catalogue.search.local_archive import LocalArchive
from services.catalogue.servicers.catalogue import CatalogueServicer
from services.catalogue.settings import PREFIX, CatalogueSettings
from services.catalogue.store import refusals
from services.catalogue.servicers.tasks import TasksServicer
from services.catalogue.tasks.queue import TaskNotifier, TaskQueue
from services.catalogue.servicers.workflow import WorkflowServicer
from libs.domain import products
from libs.geocube.client import GeocubeClient
from libs.geocube.records import GeocubeRecords
from libs.runtime import metrics as runtime_metrics
from libs.runtime.auth import ServerSecurity
from libs.runtime.errors import IngesterError, InvalidArgument, Unavailable
from libs.runtime.server import GrpcServer, start_server
from libs.storage.config import ObjectStoreConfig

logger = logging.getLogger(__name__)

SERVICE_NAMES = [
    catalogue_pb2.DESCRIPTOR.services_by_name["Catalogue"].full_name,
    tasks_pb2.DESCRIPTOR.services_by_name["Tasks"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["Registry"].full_name,
    workflow_pb2.DESCRIPTOR.services_by_name["Workflow"].full_name,
]


@dataclasses.dataclass
class CatalogueApp:
    server: GrpcServer
    pool: AsyncConnectionPool[Any]
    notifier: TaskNotifier
    archive: LocalArchive | None
    geocube: GeocubeClient | None = None
    metrics: runtime_metrics.MetricsServer | None = None
    registry: CollectorRegistry | None = None  # its metrics, for a process embedding the catalogue

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float = 2.0) -> None:
        self.notifier.close()  # long-polls answer now, not at the end of the grace period
        await self.server.stop(grace)
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.stop)
        await self.notifier.stop()
        await self.pool.close()
        if self.geocube is not None:
            await self.geocube.close()


def build_sources(
    settings: CatalogueSettings,
) -> tuple[dict[products.Constellation, list[SceneSource]], LocalArchive | None]:
    """Fallback chains per constellation (GEOCUBE_CATALOGUE_SCENE_SOURCES, see search/sources.py); with
    nothing configured the local archive serves every constellation."""
    archive = None
    archive_source = None
    if settings.archive_path:
        archive = LocalArchive(pathlib.Path(settings.archive_path))
        archive.scan()
        archive_source = ArchiveSource(archive)
    return scene_sources.build(settings, archive_source), archive


def database_errors(exc: Exception) -> IngesterError | None:
    """A lost connection or a pool timeout (PostgreSQL restarting, failing over) is an outage, not a bug:
    UNAVAILABLE tells callers to retry (workers back off, the processor retries its indexing) where
    INTERNAL would fail the tile for good. The driver's text may name hosts: it is only logged."""
    refused = refusals.refused_value(exc)  # first: some permanent refusals are OperationalErrors
    if refused is not None:
        return refused
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable("database unavailable, retry later")
    return None


async def start(settings: CatalogueSettings) -> CatalogueApp:
    ObjectStoreConfig.from_settings(settings).check(PREFIX)
    settings.check_geocube(PREFIX)
    if not settings.database_dsn:
        raise InvalidArgument(
            "GEOCUBE_CATALOGUE_DATABASE_DSN", "required (the CLI starts an embedded PostgreSQL when unset)"
        )
    # Settings first: a bad source setting is reported even when the database is unreachable.
    security = ServerSecurity.from_settings(settings, PREFIX, settings.address)
    sources, archive = build_sources(settings)
    async with await psycopg.AsyncConnection.connect(settings.database_dsn, autocommit=True) as conn:
        await migrations.apply(conn)
    # `check`: a connection is tested (one empty query) when taken from the pool, unless a caller gave it
    # back a moment ago (pool_check.py). After a database restart the idle connections are all dead;
    # without the check each would fail one request before the pool dropped it.
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        settings.database_dsn,
        min_size=2,
        max_size=settings.pool_size,
        open=False,
        check=pool_check.check_unless_recent,
        reset=pool_check.mark_returned,
    )
    await pool.open(wait=True, timeout=30)
    notifier = TaskNotifier(settings.database_dsn)
    await notifier.start()
    registry = CollectorRegistry()
    registry.register(metrics.QueueCollector(pool, asyncio.get_running_loop()))
    queue = TaskQueue(
        pool, notifier, settings.lease_seconds, settings.max_attempts, metrics.QueueMetrics(registry)
    )
    inventory = SceneInventory(sources)
    tiler = tiling.Tiler(
        settings.annotations_urls,
        RemoteAccess(
            ObjectStoreConfig.from_settings(settings),
            settings.annotations_bearer_token,
            trusted=settings.annotations_urls,
            allowed_origins=tuple(origin_of(o.rstrip("/")) for o in settings.annotations_allowed_origins),
        ),
    )
    placement = Placement(
        tuple(pathlib.Path(folder) for folder in settings.graph_path),
        tuple(root for root in (settings.storage_uri, *settings.storage_allowed_uris) if root),
    )
    # With a Geocube server, layers and records are its own (the reference's only mode); else the registry.
    geocube = GeocubeClient.connect(settings) if settings.geocube_server else None
    records = GeocubeRecords(geocube) if geocube is not None else None
    catalogue = CatalogueServicer(
        pool, inventory, tiler, Ingestion(pool, inventory, tiler, records), notifier, placement
    )

    def register(server: Any) -> None:
        catalogue_pb2_grpc.add_CatalogueServicer_to_server(catalogue, server)
        tasks_pb2_grpc.add_TasksServicer_to_server(TasksServicer(queue), server)
        registry_pb2_grpc.add_RegistryServicer_to_server(RegistryServicer(pool), server)
        workflow_pb2_grpc.add_WorkflowServicer_to_server(WorkflowServicer(pool, placement), server)

    server: GrpcServer | None = None
    try:
        server = await start_server(
            settings.address,
            [register],
            SERVICE_NAMES,
            translate=database_errors,
            security=security,
            registry=registry,
        )
        metrics_server = runtime_metrics.serve(PREFIX + "METRICS_ADDRESS", settings.metrics_address, registry)
    except BaseException:  # a busy gRPC or metrics port: stop what started (pool, LISTEN), report it
        if server is not None:
            await server.stop(0)
        await notifier.stop()
        await pool.close()
        if geocube is not None:
            await geocube.close()
        raise
    logger.info("catalogue listening on port %s", server.port)
    return CatalogueApp(server, pool, notifier, archive, geocube, metrics_server, registry)
