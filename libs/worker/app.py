"""A started worker: its channel to the catalogue, its lease loop and its own gRPC server."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Awaitable, Callable

import grpc
from prometheus_client import CollectorRegistry

from protos.ingester.v1 import tasks_pb2
from libs.runtime import metrics as runtime_metrics
from libs.runtime import server as runtime_server
from libs.runtime.channels import catalogue_channel
from libs.worker.task_loop import Handler, LeaseLoop, LoopConfig
from libs.worker.metrics import WorkerMetrics
from libs.worker.redact import Redactor
from libs.worker.settings import WorkerSettings
from libs.worker.status import StatusBoard, WorkerState

logger = logging.getLogger(__name__)

# Registers the service's GetStatus servicer (reading the board) on the worker's gRPC server.
StatusRegistrar = Callable[[grpc.aio.Server, StatusBoard], None]


class WorkerApp:
    def __init__(
        self,
        server: runtime_server.GrpcServer,
        loop: LeaseLoop,
        board: StatusBoard,
        channel: grpc.aio.Channel,
        owned_workdir: pathlib.Path | None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        metrics_server: runtime_metrics.MetricsServer | None = None,
    ):
        self._on_stop = on_stop
        self.metrics_server = metrics_server
        self._server = server
        self._loop = loop
        self._board = board
        self._channel = channel
        self._owned_workdir = owned_workdir
        self._stopped = False

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def worker_id(self) -> str:
        return self._board.worker_id

    def status(self) -> WorkerState:
        return self._board.snapshot()

    async def stop(self, grace: float = 30.0) -> None:
        """Stops leasing, gives running tasks `grace` seconds, then closes the server and the channel.
        Tasks cut short are not reported: their leases expire and another worker takes them."""
        if self._stopped:
            return
        self._stopped = True
        await self._server.set_serving(False)
        await self._loop.drain(grace)
        await self._server.stop(min(grace, 5.0))
        if self.metrics_server is not None:
            await asyncio.to_thread(self.metrics_server.stop)
        await self._channel.close()
        if self._on_stop is not None:
            await self._on_stop()
        if self._owned_workdir is not None:
            await asyncio.to_thread(shutil.rmtree, self._owned_workdir, True)
        logger.info("worker %s stopped", self._board.worker_id)


async def start_worker(
    settings: WorkerSettings,
    *,
    kind: tasks_pb2.TaskKind,
    make_handler: Callable[[grpc.aio.Channel], Handler],
    register_status: StatusRegistrar,
    service_name: str,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> WorkerApp:
    """Checks the settings, connects to the catalogue, serves GetStatus and starts leasing.

    `make_handler` receives the catalogue channel (the processor also indexes through it); `on_stop`
    closes what the handler opened besides (the processor's Geocube channel), after the last task."""
    settings.check()
    worker_id = settings.resolved_worker_id()
    owned_workdir = None
    if settings.workdir:
        workdir = pathlib.Path(settings.workdir)
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    else:
        workdir = owned_workdir = pathlib.Path(
            await asyncio.to_thread(
                tempfile.mkdtemp, prefix=f"geocube-{service_name.rsplit('.', 1)[-1].lower()}-"
            )
        )
    board = StatusBoard(worker_id)
    registry = CollectorRegistry()
    kind_name = "download" if kind == tasks_pb2.TASK_KIND_DOWNLOAD else "process"
    metrics = WorkerMetrics(registry, kind_name)
    security = settings.server_security()
    channel = catalogue_channel(settings.catalogue_address, settings.catalogue_security())
    server = None
    try:
        handler = make_handler(channel)
        server = await runtime_server.start_server(
            settings.address,
            [lambda grpc_server: register_status(grpc_server, board)],
            [service_name],
            security=security,
            registry=registry,
        )
        metrics_server = runtime_metrics.serve(
            settings.PREFIX + "METRICS_ADDRESS", settings.metrics_address, registry
        )
    except BaseException:
        if server is not None:
            await server.stop(0)
        await channel.close()
        if on_stop is not None:
            await on_stop()
        if owned_workdir is not None:
            shutil.rmtree(owned_workdir, ignore_errors=True)
        raise
    config = LoopConfig(
        kind=kind,
        worker_id=worker_id,
        workdir=workdir,
        concurrency=settings.concurrency,
        lease_wait=settings.lease_wait_seconds,
        redact=Redactor.for_worker(
            workdir,
            settings.graph_folders(),
            [settings.storage_uri, *settings.storage_allowed_uris],
            settings.archive_folders(),
        ),
    )
    loop = LeaseLoop(channel, config, handler, board, metrics)
    loop.start()
    logger.info(
        "worker %s serving on port %d, leasing from %s (%d slot(s), workdir %s)",
        worker_id,
        server.port,
        settings.catalogue_address,
        settings.concurrency,
        workdir,
        extra={"worker_id": worker_id},
    )
    return WorkerApp(server, loop, board, channel, owned_workdir, on_stop, metrics_server)
