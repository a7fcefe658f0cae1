"""The download job (spec §8.1) and the downloader process built around it.

One task = one scene: fetch the product into the task's working directory through the provider chain,
then, for every tile of the scene, run the scene graph with that single tile and upload each `to_create`
out-file to `<storage>/<aoi>/<scene>/tiles/<tile>/`. Error texts carry the reference's prefixes
(`ProcessScene.…`) because operators search for them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import grpc

from protos.ingester.v1 import downloader_pb2, downloader_pb2_grpc, tasks_pb2, types_pb2
from libs import graph as graph_engine
from libs.graph.cache import GraphCache
from libs.domain.models import Scene, Status, Tile, TileAttrs
from services.downloader import passthrough
from services.downloader.providers.product import ProductRequest, Progress
from services.downloader.settings import DownloaderSettings
from libs.graph.model import Action
from libs.runtime.errors import InvalidArgument, NotFound
from libs.runtime.tracing import tracer
from libs.storage import ObjectStoreConfig, layers, naming
from libs.storage.backend import Storage
from libs.storage.roots import ScenesStorage
from libs.worker import convert
from libs.worker.app import WorkerApp, start_worker
from libs.worker.task_loop import TaskContext
from libs.worker.outcome import JobError, Outcome, merge_alternatives, outcome_for_error, wrap
from libs.worker.status import StatusBoard, state_to_proto

logger = logging.getLogger(__name__)

SERVICE_NAME = downloader_pb2.DESCRIPTOR.services_by_name["Downloader"].full_name


class Provider(Protocol):
    """Fetches a product into a working directory (unarchived); raises when it cannot."""

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> Any: ...


# How long a cancelled job waits for its provider's thread to notice (seconds): transfers, waits and
# copies check the cancel flag every chunk, so this bounds only a call that cannot be interrupted.
CANCEL_GRACE = 5.0


def _retrieve(future: asyncio.Future[Any]) -> None:
    # The job stopped waiting (cancelled): the thread's own error (Cancelled, most often) is nobody's.
    if not future.cancelled():
        future.exception()


async def _call_provider(
    provider: Provider, product: ProductRequest, workdir: pathlib.Path, cancel_grace: float = CANCEL_GRACE
) -> None:
    # Providers may be synchronous (downloads, copies, unzipping: run in a thread) or natively async.
    if inspect.iscoroutinefunction(provider.fetch):
        await provider.fetch(product, workdir)
        return
    running = asyncio.ensure_future(asyncio.to_thread(provider.fetch, product, workdir))
    try:
        # Shielded: cancelling the job must not drop our hold on the thread, which runs on regardless.
        await asyncio.shield(running)
    except asyncio.CancelledError:
        # The thread cannot be cancelled: tell it, so that a transfer, a copy or a Retry-After wait stops,
        # and wait for it (bounded) before giving up the task: once the job ends, the lease loop removes
        # the workdir, which a thread still running could recreate and fill.
        product.cancel.set()
        running.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({running}, timeout=cancel_grace)
        if not done:
            logger.warning(
                "provider %s still running %.1fs after the task was cancelled",
                _provider_name(provider),
                cancel_grace,
            )
        raise


def _provider_name(provider: Provider) -> str:
    return str(getattr(provider, "name", type(provider).__name__))


def _progress_reporter(context: TaskContext) -> Callable[[Progress], None]:
    """Progress from a provider's thread, handed to the status board on the event loop."""
    loop = asyncio.get_running_loop()

    def report(progress: Progress) -> None:
        loop.call_soon_threadsafe(context.progress, progress.text())

    return report


def _graph_error(name: str, exc: BaseException) -> JobError:
    text = exc.reason if isinstance(exc, InvalidArgument) else str(exc)
    if not text.startswith("LoadGraphFromFile"):
        text = f"LoadGraphFromFile[{name}]: {text}"
    return wrap("ProcessScene.", JobError(text, temporary=False))


class DownloadJob:
    """Runs one download task; callable as the lease loop's handler."""

    def __init__(
        self,
        providers: Sequence[Provider],
        storage_uri: str,
        graph_path: Sequence[pathlib.Path],
        object_store: ObjectStoreConfig | None = None,
        cancel_grace: float = CANCEL_GRACE,
        allowed_storage: Sequence[str] = (),
        storage_setting: str = "GEOCUBE_DOWNLOADER_STORAGE_ALLOWED_URIS",
    ):
        if not providers:
            raise InvalidArgument("providers", "no image providers defined")
        self._providers = list(providers)
        self._cancel_grace = cancel_grace
        self._storages = ScenesStorage(storage_uri, allowed_storage, object_store, storage_setting)
        self._graphs = GraphCache(graph_path)

    async def __call__(self, task: tasks_pb2.Task, context: TaskContext) -> Outcome:
        scene = convert.scene_from_proto(task.download.scene)
        if scene.id == 0 or not scene.data.tiles:
            # The reference drops such a message; a leased task must be answered, so it ends FAILED.
            return Outcome(Status.FAILED, f"invalid payload : {scene.id}-{len(scene.data.tiles)}")
        extra = {"aoi": scene.aoi, "scene_id": scene.id, "task_id": task.task_id}
        try:
            await self.process_scene(scene, context)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reported outcome
            outcome = outcome_for_error(exc, retriable=scene.data.is_retriable, honour_fatal=False)
            logger.warning("scene %s failed: %s", scene.source_id, outcome.message, extra=extra)
            return outcome
        logger.info("scene %s downloaded (%d tile(s))", scene.source_id, len(scene.data.tiles), extra=extra)
        return Outcome.done()

    async def process_scene(self, scene: Scene, context: TaskContext) -> None:
        workdir = context.workdir
        # The default root is the operator's: messages name only a payload's own URI.
        storage_uri = scene.data.storage_uri or "default storage"
        try:
            storage = await self._storages.get(scene.data.storage_uri)
        except Exception as exc:
            raise wrap(f"ProcessScene.Storage[{storage_uri}]: ", exc) from exc

        if await self.store_archive_as_is(scene, storage, context):
            return
        context.progress("fetching the product")
        await self.fetch_product(scene, workdir, context)

        # All tiles share the working directory and the product fetched once.
        for number, (tile_id, mapping) in enumerate(scene.data.tiles.items(), start=1):
            tile = Tile(
                id=0,
                source_id=tile_id,
                scene=scene,
                data=TileAttrs(swath_id=mapping.swath_id, tile_nr=mapping.tile_nr),
            )
            context.progress(
                f"tile {number}/{len(scene.data.tiles)} {tile_id}: running {scene.data.graph_name}"
            )
            await self.process_tile(scene, tile, storage, workdir, context)

    async def store_archive_as_is(self, scene: Scene, storage: Storage, context: TaskContext) -> bool:
        """The fast path of passthrough.py; False (nothing done) whenever it does not apply."""
        locate = getattr(self._providers[0], "locate", None)
        if locate is None:
            return False
        try:
            graph = await self._graphs.get(scene.data.graph_name, scene.data.is_retriable)
        except Exception:  # noqa: BLE001 - the normal path reports the graph error with its context
            return False
        if not passthrough.is_repack_only(graph):
            return False
        loop = asyncio.get_running_loop()

        def progress(text: str) -> None:  # from the thread: the status board lives on the loop
            loop.call_soon_threadsafe(context.progress, text)

        return await asyncio.to_thread(self._store_as_is, scene, storage, locate, progress)

    def _store_as_is(
        self,
        scene: Scene,
        storage: Storage,
        locate: Callable[[str], pathlib.Path],
        progress: Callable[[str], None],
    ) -> bool:
        """Finds and checks the archive, then stores it under each tile's key: in one thread hop."""
        try:
            archive = locate(scene.source_id)
        except Exception:  # noqa: BLE001 - not in the first provider: the chain decides
            return False
        if not passthrough.storable_archive(archive):
            return False
        for tile_id in scene.data.tiles:
            tile = Tile(id=0, source_id=tile_id, scene=scene, data=TileAttrs())
            key = naming.object_key(tile, naming.stored_file_name(tile, passthrough.PRODUCT_LAYER, "*"))
            progress(f"tile {tile_id}: storing the product archive")
            uri = storage.put_file(archive, key)
            logger.info("stored %s (archive as is)", uri, extra={"aoi": scene.aoi, "scene_id": scene.id})
        return True

    async def fetch_product(
        self, scene: Scene, workdir: pathlib.Path, context: TaskContext | None = None
    ) -> None:
        """Tries the providers in order and stops at the first success (spec §8.2)."""
        report = _progress_reporter(context) if context is not None else None
        failures: list[BaseException] = []
        for provider in self._providers:
            if context is not None:
                context.progress(f"fetching the product via {_provider_name(provider)}")
            name = _provider_name(provider)
            started = time.perf_counter()
            try:
                with tracer.start_as_current_span(f"fetch via {name}", attributes={"geocube.provider": name}):
                    await _call_provider(
                        provider,
                        ProductRequest.from_scene(scene, on_progress=report),
                        workdir,
                        self._cancel_grace,
                    )
                if context is not None:
                    await asyncio.to_thread(
                        context.metrics.observe_download, name, time.perf_counter() - started, True, workdir
                    )
                return
            except Exception as exc:  # noqa: BLE001 - the next provider may succeed
                if context is not None:
                    context.metrics.observe_download(name, time.perf_counter() - started, False, None)
                # Debug only: the merged errors of every provider are reported (and logged) with the job.
                logger.debug("provider %s: %s", _provider_name(provider), exc)
                failures.append(exc)
        merged = merge_alternatives(failures)
        if all(isinstance(exc, NotFound) for exc in failures):
            names = ", ".join(_provider_name(provider) for provider in self._providers)
            # Last, so that the text still starts as the reference's does (operators search for it).
            merged = JobError(f"{merged.message}\n product not found by any provider ({names})")
        raise wrap("ProcessScene.ImageProviders.", merged)

    async def process_tile(
        self, scene: Scene, tile: Tile, storage: Storage, workdir: pathlib.Path, context: TaskContext
    ) -> None:
        # The reference loads the graph again for every tile; the cache sees a changed file within a second.
        try:
            graph = await self._graphs.get(scene.data.graph_name, scene.data.is_retriable)
        except Exception as exc:
            raise _graph_error(scene.data.graph_name, exc) from exc
        result = await graph_engine.run_graph(
            graph, scene.data.graph_config, [tile], workdir, context.metrics.run_options()
        )
        if result.error is not None:
            raise wrap(f"ProcessScene.ProcessTile[{tile.source_id}].", result.error) from result.error
        # Only `to_create` counts in a scene graph: indexing and deleting are the processor's business.
        for _, out_file in result.out_files:
            if out_file.action is not Action.TO_CREATE:
                continue
            context.progress(f"tile {tile.source_id}: storing {out_file.layer}")
            try:
                uri = await asyncio.to_thread(
                    layers.save_layer, storage, workdir, tile, out_file.layer, out_file.extension
                )
            except Exception as exc:
                prefix = f"ProcessScene.ProcessTile[{naming.tile_tag(tile)}]."
                if not str(exc).startswith("SaveLayer"):
                    prefix += "SaveLayer."
                raise wrap(prefix, exc) from exc
            logger.info("stored %s", uri, extra={"aoi": scene.aoi, "scene_id": scene.id})


class _StatusServicer(downloader_pb2_grpc.DownloaderServicer):
    def __init__(self, board: StatusBoard):
        self._board = board

    async def GetStatus(
        self, request: downloader_pb2.GetDownloaderStatusRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.WorkerStatus:
        return state_to_proto(self._board.snapshot())


def _register_status(server: grpc.aio.Server, board: StatusBoard) -> None:
    downloader_pb2_grpc.add_DownloaderServicer_to_server(_StatusServicer(board), server)


def build_providers(settings: DownloaderSettings) -> list[Provider]:
    """The configured providers in the reference's order (spec §8.2; docs/providers.md)."""
    from services.downloader.providers import configure

    return list(configure.build(settings))


async def start(settings: DownloaderSettings) -> WorkerApp:
    """Checks the settings, serves Downloader.GetStatus (+ health, reflection) and starts leasing."""
    settings.check()  # includes the default storage URI: a bad one fails here, not on the first task
    job = DownloadJob(
        build_providers(settings),
        settings.storage_uri,
        settings.graph_folders(),
        settings.object_store(),
        allowed_storage=settings.storage_allowed_uris,
        storage_setting=settings.PREFIX + "STORAGE_ALLOWED_URIS",
    )
    return await start_worker(
        settings,
        kind=tasks_pb2.TASK_KIND_DOWNLOAD,
        make_handler=lambda channel: job,
        register_status=_register_status,
        service_name=SERVICE_NAME,
    )
