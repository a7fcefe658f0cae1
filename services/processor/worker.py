"""The processing job (spec §9) and the processor process built around it.

One task = one tile T0, with its previous tile T1 and its reference tile T2 (each defaults to T0 when
absent). Import the graph's in-files, run the tile graph, then handle the selected out-files even when
the graph failed: upload `to_create`/`to_index`, index `to_index` in the registry, and delete
`to_delete` once the catalogue has accepted the task's result (so that a redo still finds them, see
`InputDeletions`). Error texts carry the reference's `ProcessTile[<tag>].` prefix.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pathlib
from collections.abc import Awaitable, Callable, Sequence

import grpc
import pystac

from protos.ingester.v1 import processor_pb2, processor_pb2_grpc, tasks_pb2, types_pb2
from libs import graph as graph_engine
from libs.domain.models import Status, Tile
from libs.geocube.client import GeocubeClient
from libs.geocube.indexing import GeocubeIndexer
from libs.graph.cache import GraphCache
from libs.graph.model import Action, OutFile
from services.processor.indexing import DatasetIndexer, Indexer, ToIndex
from services.processor.settings import ProcessorSettings
from services.processor.stac_publish import StacPublisher
from libs.stac.publishing import StacPublishing
from libs.stac.transactions import StacTransactions
from libs.runtime.errors import InvalidArgument, NotFound
from libs.storage import ObjectStoreConfig, layers, naming
from libs.storage.backend import Storage
from libs.storage.roots import ScenesStorage
from libs.worker import convert
from libs.worker.app import WorkerApp, start_worker
from libs.worker.task_loop import TaskContext
from libs.worker.outcome import JobError, Outcome, outcome_for_error, wrap
from libs.worker.status import StatusBoard, state_to_proto

logger = logging.getLogger(__name__)

SERVICE_NAME = processor_pb2.DESCRIPTOR.services_by_name["Processor"].full_name


def _other_tile(job: tasks_pb2.ProcessJob, field: str, current: Tile) -> Tile:
    """T1/T2: the job's previous/reference tile, or T0 when absent (root tiles, spec §9 step 5)."""
    if job.HasField(field) and getattr(job, field).source_id:
        return convert.tile_from_proto(getattr(job, field))
    return current


class InputDeletions:
    """The `to_delete` files a task's graph selected, deleted by the lease loop once the catalogue has
    accepted the task's result (`Outcome.after_report`).

    The reference deletes them before reporting. Then a task whose lease is lost meanwhile (a catalogue
    restart, a worker stalled past its lease) or whose worker dies before the report is redone without
    its inputs, and the tile ends RETRY/FAILED although its outputs were indexed (found by the fault
    tests, tests/e2e/test_faults.py). A failure to delete no longer fails the tile: it is logged."""

    def __init__(self) -> None:
        self.storage: Storage | None = None
        self.files: list[tuple[Tile, OutFile]] = []

    async def __call__(self) -> None:
        storage = self.storage
        if storage is None:
            return
        for tile, out_file in self.files:
            extra = {"aoi": tile.scene.aoi, "tile_id": tile.id}
            name = f"{naming.tile_tag(tile)} {out_file.layer}.{out_file.extension}"
            try:
                await asyncio.to_thread(
                    layers.delete_layer, storage, tile, out_file.layer, out_file.extension
                )
            except NotFound:
                continue
            except Exception as exc:  # noqa: BLE001 - the other files are still deleted
                logger.warning("cannot delete input %s: %s", name, exc, extra=extra)
                continue
            logger.info("deleted input %s", name, extra=extra)


class ProcessJob:
    """Runs one processing task; callable as the lease loop's handler."""

    def __init__(
        self,
        storage_uri: str,
        graph_path: Sequence[pathlib.Path],
        indexer: DatasetIndexer,
        object_store: ObjectStoreConfig | None = None,
        allowed_storage: Sequence[str] = (),
        storage_setting: str = "GEOCUBE_PROCESSOR_STORAGE_ALLOWED_URIS",
        stac: StacPublisher | None = None,
        publish: Callable[[Sequence[pystac.Item]], Awaitable[None]] | None = None,
    ):
        self._publish = publish
        self._stac = stac
        self._storage_uri = storage_uri
        self._storages = ScenesStorage(storage_uri, allowed_storage, object_store, storage_setting)
        self._graphs = GraphCache(graph_path)
        self._indexer = indexer

    async def __call__(self, task: tasks_pb2.Task, context: TaskContext) -> Outcome:
        job = task.process
        if job.tile.id == 0:
            # The reference drops such a message; a leased task must be answered, so it ends FAILED.
            return Outcome(Status.FAILED, f"invalid payload: {job.tile.id}")
        tile = convert.tile_from_proto(job.tile)
        tiles = [tile, _other_tile(job, "previous", tile), _other_tile(job, "reference", tile)]
        extra = {"aoi": tile.scene.aoi, "tile_id": tile.id, "task_id": task.task_id}
        deletions = InputDeletions()
        try:
            await self.process_tile(tiles, context, deletions)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reported outcome
            # Unlike the downloader, a fatal error is FAILED even for a retriable tile (spec §5.11).
            outcome = outcome_for_error(exc, retriable=tile.data.is_retriable, honour_fatal=True)
            logger.warning("tile %s failed: %s", naming.tile_tag(tile), outcome.message, extra=extra)
        else:
            logger.info("tile %s processed", naming.tile_tag(tile), extra=extra)
            outcome = Outcome.done()
        return dataclasses.replace(outcome, after_report=deletions if deletions.files else None)

    async def process_tile(self, tiles: list[Tile], context: TaskContext, deletions: InputDeletions) -> None:
        """Runs the tile graph and handles its out-files; the `to_delete` ones go to `deletions`."""
        tile, workdir = tiles[0], context.workdir
        prefix = f"ProcessTile[{naming.tile_tag(tile)}]."
        storage_uri = tile.scene.data.storage_uri or self._storage_uri
        # The default root is the operator's: messages name only a payload's own URI.
        shown_uri = tile.scene.data.storage_uri or "default storage"
        try:
            storage = await self._storages.get(tile.scene.data.storage_uri)
        except Exception as exc:
            raise wrap(f"{prefix}Storage[{shown_uri}]: ", exc) from exc
        try:
            graph = await self._graphs.get(tile.data.graph_name, tile.data.is_retriable)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, InvalidArgument) else str(exc)
            raise wrap(prefix, JobError(reason)) from exc

        for source_tile, in_file in graph_engine.input_files(graph, tiles):
            context.progress(
                f"importing {naming.layer_file_name(source_tile, in_file.layer, in_file.extension)}"
            )
            try:
                await asyncio.to_thread(
                    layers.import_layer, storage, workdir, source_tile, in_file.layer, in_file.extension
                )
            except Exception as exc:
                raise wrap(prefix, exc) from exc

        context.progress(f"running {tile.data.graph_name}")
        result = await graph_engine.run_graph(
            graph, tile.scene.data.graph_config, tiles, workdir, context.metrics.run_options()
        )
        process_error = wrap(prefix, result.error) if result.error is not None else None
        if process_error is not None:
            logger.info("%s graph failed: %s", naming.tile_tag(tile), process_error.message)

        # Out-files are handled even after a failure: the graph selects what a failure leaves to do
        # (typically deleting an input once a fatal error makes it useless).
        outfile_error: JobError | None = None
        try:
            await self.handle_out_files(result.out_files, tiles, storage, workdir, context, storage_uri)
            deletions.storage = storage
            deletions.files = [
                (tiles[slot], f) for slot, f in result.out_files if f.action is Action.TO_DELETE
            ]
        except Exception as exc:  # noqa: BLE001 - combined with the graph error below
            outfile_error = wrap(prefix, exc)

        if process_error is not None and outfile_error is not None:
            raise JobError(
                f"{process_error.message} (during cleaning, an other error occured: {outfile_error.message})",
                temporary=process_error.temporary,
                fatal=process_error.fatal,
            )
        if process_error is not None:
            raise process_error
        if outfile_error is not None:
            raise outfile_error

    async def handle_out_files(
        self,
        out_files: Sequence[tuple[int, OutFile]],
        tiles: Sequence[Tile],
        storage: Storage,
        workdir: pathlib.Path,
        context: TaskContext,
        storage_uri: str = "",
    ) -> None:
        """Uploads `to_create`/`to_index` files and indexes the `to_index` ones (`to_delete`: see
        InputDeletions)."""
        to_index: list[ToIndex] = []
        for slot, out_file in out_files:
            tile = tiles[slot]
            if out_file.action in (Action.TO_CREATE, Action.TO_INDEX):
                context.progress(
                    f"storing {naming.layer_file_name(tile, out_file.layer, out_file.extension)}"
                )
                uri = await asyncio.to_thread(
                    layers.save_layer, storage, workdir, tile, out_file.layer, out_file.extension
                )
                logger.info("stored %s", uri, extra={"aoi": tile.scene.aoi, "tile_id": tile.id})
                if out_file.action is Action.TO_INDEX:
                    to_index.append(ToIndex(uri, tile, out_file))

        if to_index:
            context.progress(f"indexing {len(to_index)} file(s)")
            counts = await self._indexer.index(to_index)
            logger.info("indexed %d dataset(s), %d already there", counts.created, counts.existing)
            items: Sequence[pystac.Item] = ()
            if self._stac is not None:
                context.progress("publishing STAC items")
                items = await self._stac.publish(to_index, storage, storage_uri, workdir)
            if self._publish is not None and items:
                context.progress(f"publishing {len(items)} STAC item(s) to the external STAC API")
                await self._publish(items)
            # The reference also tags the record with `processingDate`: the Geocube indexer does, the
            # built-in registry has no tag update yet.


class _StatusServicer(processor_pb2_grpc.ProcessorServicer):
    def __init__(self, board: StatusBoard):
        self._board = board

    async def GetStatus(
        self, request: processor_pb2.GetProcessorStatusRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.WorkerStatus:
        return state_to_proto(self._board.snapshot())


def _register_status(server: grpc.aio.Server, board: StatusBoard) -> None:
    processor_pb2_grpc.add_ProcessorServicer_to_server(_StatusServicer(board), server)


async def start(settings: ProcessorSettings) -> WorkerApp:
    """Checks the settings, serves Processor.GetStatus (+ health, reflection) and starts leasing."""
    settings.check()  # includes the default storage URI: a bad one fails here, not on the first task
    graph_path = settings.graph_folders()
    geocube = GeocubeClient.connect(settings) if settings.geocube_server else None
    transactions = (
        StacTransactions(
            settings.stac_publish_url, settings.stac_publish_token, settings.stac_publish_timeout
        )
        if settings.stac_publish_url
        else None
    )

    async def close_clients() -> None:
        if geocube is not None:
            await geocube.close()
        if transactions is not None:
            await transactions.close()

    def make_handler(channel: grpc.aio.Channel) -> ProcessJob:
        # The registry is served by the catalogue: indexing shares the channel the tasks come from.
        indexer: DatasetIndexer = Indexer(channel, settings.index_retry_seconds)
        if geocube is not None:
            indexer = GeocubeIndexer(geocube, settings.index_retry_seconds)
        return ProcessJob(
            settings.storage_uri,
            graph_path,
            indexer,
            settings.object_store(),
            allowed_storage=settings.storage_allowed_uris,
            storage_setting=settings.PREFIX + "STORAGE_ALLOWED_URIS",
            stac=StacPublisher(
                channel,
                settings.stac_static_catalog,
                settings.index_retry_seconds,
                link_records=not settings.geocube_server,
            ),
            publish=StacPublishing(transactions, settings.index_retry_seconds) if transactions else None,
        )

    return await start_worker(
        settings,
        kind=tasks_pb2.TASK_KIND_PROCESS,
        make_handler=make_handler,
        register_status=_register_status,
        service_name=SERVICE_NAME,
        on_stop=close_clients,
    )
