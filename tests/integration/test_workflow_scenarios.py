"""The reference's workflow scenarios (spec §5.4-5.10) through the catalogue's gRPC API, over a real
PostgreSQL, with this test playing the workers (a real gRPC client of the Tasks service).

Every scenario builds time series of Sentinel-1 bursts: one scene per date, two tiles per scene (series
A and B, one burst id each; more in the concurrency scenarios). The earliest date is the root of each series; a later tile has previous =
the tile of the date before and reference = the root. Tiles are named by date index and series in the
assertions: "2A" is the tile of series A in the scene of date 2.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import random
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf import duration_pb2

from protos.ingester.v1 import (
    catalogue_pb2,
    registry_pb2,
    tasks_pb2,
    tasks_pb2_grpc,
    types_pb2,
    workflow_pb2,
)
from services.catalogue import app
from services.catalogue.app import CatalogueApp
from services.catalogue.settings import CatalogueSettings
from libs.domain import models
from libs.domain import proto_convert as pc

T = 10  # seconds: deadline of every RPC
NEW, PENDING, DONE, RETRY, FAILED = (
    types_pb2.STATUS_NEW,
    types_pb2.STATUS_PENDING,
    types_pb2.STATUS_DONE,
    types_pb2.STATUS_RETRY,
    types_pb2.STATUS_FAILED,
)
DOWNLOAD, PROCESS = tasks_pb2.TASK_KIND_DOWNLOAD, tasks_pb2.TASK_KIND_PROCESS
SERIES = ("A44_IW1_8951", "A44_IW1_8952")
LETTERS = "ABCDEFGH"
WKT = "POLYGON ((9.7 54.8, 10.1 54.8, 10.1 55.1, 9.7 55.1, 9.7 54.8))"


@pytest.fixture
async def catalogue(pg_dsn: str, archive_dir: pathlib.Path) -> AsyncIterator[CatalogueApp]:
    # Long leases: a scenario holds leases across several steps and must not see them expire on a busy
    # machine (lease expiry has its own tests).
    running = await app.start(
        CatalogueSettings(
            database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive_dir), lease_seconds=60
        )
    )
    yield running
    await running.stop(grace=0.5)
    await assert_status_counts_match(pg_dsn)


COUNTS_FROM_TABLES = """
    SELECT aoi_id, 'scene', status, count(*) FROM scene GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.aoi_id, 'tile', t.status, count(*) FROM tile t JOIN scene s ON s.id = t.scene_id
    WHERE s.status = 'DONE' GROUP BY 1, 2, 3
"""


async def assert_status_counts_match(dsn: str) -> None:
    """The per-AOI counts the triggers maintain (migration 0005) equal a recount of the tables, after
    every scenario: forced transitions, healing, retries and new dates all went through them."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        kept = await (
            await conn.execute("SELECT aoi_id, kind, status, n FROM aoi_status_count WHERE n <> 0")
        ).fetchall()
        recount = await (await conn.execute(COUNTS_FROM_TABLES)).fetchall()
    assert sorted(kept) == sorted(recount)


def name(status: int) -> str:
    return types_pb2.Status.Name(status).removeprefix("STATUS_")


def date_of(i: int) -> dt.datetime:
    return dt.datetime(2022, 1, 4, 5, 40, 40, tzinfo=dt.UTC) + dt.timedelta(days=6 * i)


def scene_name(i: int) -> str:
    date = date_of(i)
    stop = date + dt.timedelta(seconds=27)
    return f"S1A_IW_SLC__1SDV_{date:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_0412{i:02d}_04E7C0_{i:04X}"


def ref_to(tile: types_pb2.Tile) -> models.TileRef:
    """A catalogue link to a tile as the workflow returns it (ListLeafTiles/ListRootTiles)."""
    return models.TileRef(tile.source_id, tile.scene.source_id, pc.time_from_proto(tile.scene.data, "date"))


def catalog_scene(
    aoi: str,
    i: int,
    series: Sequence[str],
    first: int = 0,
    links: dict[str, tuple[models.TileRef, models.TileRef]] | None = None,
) -> models.CatalogScene:
    """The scene of date `i`. Its tiles continue the series started at date `first` (root when i == first),
    unless `links` gives (previous, reference) per tile source id."""
    source_id, date = scene_name(i), date_of(i)
    tiles = []
    for burst in series:
        previous = reference = None
        if links is not None:
            previous, reference = links[burst]
        elif i > first:
            previous = models.TileRef(burst, scene_name(i - 1), date_of(i - 1))
            reference = models.TileRef(burst, scene_name(first), date_of(first))
        tiles.append(
            models.CatalogTile(
                source_id=burst,
                scene_id=source_id,
                date=date,
                wkt=WKT,
                previous=previous,
                reference=reference,
                data=models.TileAttrs(swath_id="IW1", tile_nr=1, graph_name="Pass", is_retriable=True),
            )
        )
    return models.CatalogScene(
        source_id=source_id,
        aoi=aoi,
        tags={"source": "test"},
        wkt=WKT,
        tiles=tiles,
        data=models.SceneAttrs(
            date=date,
            graph_name="CopyProductToStorage",
            graph_config={},
            tiles={b: models.TileMapping("IW1", 1) for b in series},
            is_retriable=True,
        ),
    )


def area(aoi: str, retry_count: int) -> types_pb2.Area:
    out = types_pb2.Area(
        name=aoi,
        geometry_wkt=WKT,
        scene_type=types_pb2.SceneType(constellation="sentinel1"),
        scene_graph_name="CopyProductToStorage",
        tile_graph_name="Pass",
        retry_count=retry_count,
        is_retriable=True,
        record_tags={"source": "test"},
    )
    out.layers["VV"].variable = "VV"
    out.layers["VV"].instance = "raw"
    return out


async def register_layers(stubs: Any) -> None:
    await stubs.registry.CreateVariable(
        registry_pb2.CreateVariableRequest(name="VV", dtype="float32"), timeout=T
    )
    await stubs.registry.CreateInstance(
        registry_pb2.CreateInstanceRequest(variable="VV", name="raw"), timeout=T
    )


async def lease(tasks: Any, kind: int, wait: int = 0, worker: str = "test") -> tasks_pb2.Task | None:
    response = await tasks.LeaseTask(
        tasks_pb2.LeaseTaskRequest(kind=kind, worker_id=worker, wait=duration_pb2.Duration(seconds=wait)),
        timeout=wait + T,
    )
    return response.task if response.HasField("task") else None


async def report(tasks: Any, task: tasks_pb2.Task, status: int, message: str = "") -> bool:
    answer = await tasks.ReportResult(
        tasks_pb2.ReportResultRequest(
            task_id=task.task_id, lease_token=task.lease_token, status=status, message=message
        ),
        timeout=T,
    )
    return bool(answer.applied)


async def refused(call: Any, code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION) -> str:
    """Awaits a call that must fail with `code`; returns the status message."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    return err.value.details() or ""


class Flow:
    """One AOI seen from outside: ingestion, status reads, and the worker leases the test holds.

    Leases taken are held until the test reports them, so "what is ready now" is exactly the set of
    tasks a worker could lease (with no wait: every change is committed when its RPC answers)."""

    def __init__(self, stubs: Any, aoi: str = "Denmark", series: Sequence[str] = SERIES):
        self.stubs, self.aoi, self.series = stubs, aoi, tuple(series)
        self.scenes: dict[int, types_pb2.Scene] = {}  # date index -> scene
        self.tiles: dict[str, types_pb2.Tile] = {}  # label -> tile
        self.labels: dict[int, str] = {}  # tile id -> label
        self.downloads: dict[int, tasks_pb2.Task] = {}  # held download leases by date index
        self.processes: dict[str, tasks_pb2.Task] = {}  # held process leases by tile label

    # -- ingestion and reads ----------------------------------------------------------------------

    async def ingest(
        self, dates: Iterable[int], retry_count: int = 0, first: int = 0
    ) -> catalogue_pb2.IngestAreaResponse:
        scenes = [pc.catalog_scene_to_proto(catalog_scene(self.aoi, i, self.series, first)) for i in dates]
        answer = await self.stubs.catalogue.IngestArea(
            catalogue_pb2.IngestAreaRequest(
                area=area(self.aoi, retry_count), tiles=catalogue_pb2.SceneList(scenes=scenes)
            ),
            timeout=T,
        )
        await self.refresh()
        return answer

    async def refresh(self) -> None:
        scenes = (
            await self.stubs.catalogue.ListScenes(catalogue_pb2.ListScenesRequest(aoi=self.aoi), timeout=T)
        ).scenes
        index = {scene_name(i): i for i in range(32)}
        self.scenes = {index[s.source_id]: s for s in scenes}
        by_id = {s.id: index[s.source_id] for s in scenes}
        tiles = (
            await self.stubs.workflow.ListAoiTiles(workflow_pb2.ListAoiTilesRequest(aoi=self.aoi), timeout=T)
        ).tiles
        self.tiles = {f"{by_id[t.scene.id]}{LETTERS[self.series.index(t.source_id)]}": t for t in tiles}
        self.labels = {t.id: label for label, t in self.tiles.items()}

    def tid(self, label: str) -> int:
        return self.tiles[label].id

    def sid(self, i: int) -> int:
        return self.scenes[i].id

    def label(self, tile_id: int) -> str:
        return self.labels[tile_id]

    async def tile_states(self, *labels: str) -> dict[str, tuple[str, str | None, str | None]]:
        """label -> (status, previous label, reference label) of the given tiles (all when none given)."""
        await self.refresh()
        out = {}
        for label in labels or sorted(self.tiles):
            t = self.tiles[label]
            prev = self.label(t.previous_id) if t.HasField("previous_id") else None
            ref = self.label(t.reference_id) if t.HasField("reference_id") else None
            out[label] = (name(t.status), prev, ref)
        return out

    async def scene_states(self) -> dict[int, str]:
        await self.refresh()
        return {i: name(s.status) for i, s in sorted(self.scenes.items())}

    async def aoi_status(self) -> str:
        answer = await self.stubs.catalogue.WaitAoiStatus(
            catalogue_pb2.WaitAoiStatusRequest(aoi=self.aoi), timeout=T
        )
        return name(answer.status)

    async def roots(self) -> set[str]:
        answer = await self.stubs.workflow.ListRootTiles(
            workflow_pb2.ListGraphTilesRequest(aoi=self.aoi), timeout=T
        )
        return {self.label(t.id) for t in answer.tiles}

    async def leaves(self) -> set[str]:
        answer = await self.stubs.workflow.ListLeafTiles(
            workflow_pb2.ListGraphTilesRequest(aoi=self.aoi), timeout=T
        )
        return {self.label(t.id) for t in answer.tiles}

    # -- control ----------------------------------------------------------------------------------

    async def set_tile(self, label: str, status: int, force: bool = False) -> bool:
        answer = await self.stubs.workflow.UpdateTileStatus(
            workflow_pb2.UpdateStatusRequest(id=self.tid(label), status=status, force=force), timeout=T
        )
        return bool(answer.done)

    async def set_scene(self, i: int, status: int, force: bool = False) -> bool:
        answer = await self.stubs.workflow.UpdateSceneStatus(
            workflow_pb2.UpdateStatusRequest(id=self.sid(i), status=status, force=force), timeout=T
        )
        return bool(answer.done)

    async def retry_aoi(self, force: bool) -> tuple[int, int, list[str]]:
        answer = await self.stubs.workflow.RetryAoi(
            workflow_pb2.RetryAoiRequest(aoi=self.aoi, force=force), timeout=T
        )
        return answer.scenes, answer.tiles, list(answer.errors)

    # -- the worker side --------------------------------------------------------------------------

    async def take_downloads(self) -> list[int]:
        """Leases every download ready now; returns their date indexes in lease order."""
        taken = []
        while (task := await lease(self.stubs.tasks, DOWNLOAD)) is not None:
            i = next(i for i, s in self.scenes.items() if s.id == task.download.scene.id)
            self.downloads[i] = task
            taken.append(i)
        return taken

    async def download(self, i: int, status: int = DONE, message: str = "") -> bool:
        """Reports the download of date `i` (leasing it first if not held: it must be ready)."""
        if i not in self.downloads:
            await self.take_downloads()
        assert i in self.downloads, f"download of date {i} is not ready"
        return await report(self.stubs.tasks, self.downloads.pop(i), status, message)

    async def ready(self) -> set[str]:
        """Leases every processing ready now and returns the labels of all process leases held."""
        while (task := await lease(self.stubs.tasks, PROCESS)) is not None:
            label = self.label(task.process.tile.id)
            assert label not in self.processes, f"{label} leased twice"
            self.processes[label] = task
        return set(self.processes)

    async def job(self, label: str) -> tuple[str | None, str | None]:
        """(previous, reference) labels carried by the held (or ready) processing job of `label`; a
        previous tile in a job is always DONE."""
        if label not in self.processes:
            await self.ready()
        assert label in self.processes, f"{label} is not ready (held: {sorted(self.processes)})"
        job = self.processes[label].process
        assert job.tile.scene.source_id == self.scenes[int(label[:-1])].source_id
        prev = ref = None
        if job.HasField("previous"):
            assert job.previous.status == DONE and job.previous.scene.source_id
            prev = self.label(job.previous.id)
        if job.HasField("reference"):
            assert job.reference.scene.source_id
            ref = self.label(job.reference.id)
        return prev, ref

    async def process(self, label: str, status: int = DONE, message: str = "") -> bool:
        await self.job(label)
        return await report(self.stubs.tasks, self.processes.pop(label), status, message)

    async def drain(self) -> list[str]:
        """Processes everything that becomes ready until nothing is, checking each job's links against
        the graph; returns the labels in processing order."""
        order: list[str] = []
        while ready := sorted(await self.ready()):
            for label in ready:
                prev, ref = await self.job(label)
                status, graph_prev, graph_ref = (await self.tile_states(label))[label]
                assert (status, prev, ref) == ("PENDING", graph_prev, graph_ref), label
                assert prev is None or prev in order or (await self.tile_states(prev))[prev][0] == "DONE"
                assert await self.process(label)
                order.append(label)
        return order


def chain(n: int, letters: str = "AB") -> dict[str, tuple[str, str | None, str | None]]:
    """The untouched graph of n dates: (status NEW, previous, reference) per tile."""
    return {
        f"{i}{s}": ("NEW", f"{i - 1}{s}" if i else None, f"0{s}" if i else None)
        for i in range(n)
        for s in letters
    }


# ---------------------------------------------------------------------------------------------------


async def test_chain_runs_in_dependency_order(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    answer = await flow.ingest(range(4))
    assert (answer.scene_count, answer.tile_count) == (4, 8)
    assert await flow.scene_states() == {0: "PENDING", 1: "PENDING", 2: "PENDING", 3: "PENDING"}
    assert await flow.tile_states() == chain(4)
    assert await flow.aoi_status() == "PENDING"
    assert await flow.roots() == {"0A", "0B"}
    assert await flow.leaves() == {"3A", "3B"}
    assert await flow.ready() == set()  # nothing downloaded yet

    assert await flow.take_downloads() == [0, 1, 2, 3]  # oldest first
    assert await flow.download(1)
    assert await flow.ready() == set()  # 1A/1B wait for 0A/0B
    assert (await flow.tile_states("1A"))["1A"] == ("NEW", "0A", "0A")

    assert await flow.download(0)
    assert await flow.ready() == {"0A", "0B"}
    assert await flow.job("0A") == (None, None)  # a root is processed alone
    assert await flow.process("0A")
    assert await flow.ready() == {"0B", "1A"}  # 1A's scene is downloaded and 0A is DONE
    assert await flow.job("1A") == ("0A", "0A")
    assert await flow.process("1A")
    assert await flow.ready() == {"0B"}  # 2A waits for its scene
    assert (await flow.tile_states("2A"))["2A"] == ("NEW", "1A", "0A")

    assert await flow.download(2)
    assert await flow.ready() == {"0B", "2A"}  # released by its download: its previous is DONE
    assert await flow.job("2A") == ("1A", "0A")
    assert await flow.download(3)
    assert await flow.ready() == {"0B", "2A"}  # 3A waits for 2A, 3B for 2B

    order = await flow.drain()
    assert sorted(order) == ["0B", "1B", "2A", "2B", "3A", "3B"]
    assert order.index("1B") < order.index("2B") < order.index("3B")
    assert all(v[0] == "DONE" for v in (await flow.tile_states()).values())
    assert await flow.aoi_status() == "DONE"
    report_ = await stubs.catalogue.GetAoiReport(catalogue_pb2.GetAoiReportRequest(aoi=flow.aoi), timeout=T)
    assert (report_.scenes.done, report_.tiles.done, report_.root_tiles) == (4, 8, 2)

    # Duplicate results and refused transitions change nothing.
    assert not await flow.set_tile("3A", DONE)
    assert not await flow.set_scene(0, PENDING)  # DONE -> PENDING is a forced retry only
    assert not await flow.set_tile("0A", FAILED)  # DONE -> FAILED: refused
    assert await flow.aoi_status() == "DONE"


async def test_root_failure_promotes_first_dependant(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(4))
    assert await flow.download(0)
    assert await flow.ready() == {"0A", "0B"}

    # B: the root fails while its dependant's scene is not downloaded yet.
    assert await flow.process("0B", FAILED, "graph failed: no space left")
    assert await flow.tile_states("0B", "1B", "2B", "3B") == {
        "0B": ("FAILED", None, None),
        "1B": ("NEW", None, None),
        "2B": ("NEW", "1B", "1B"),
        "3B": ("NEW", "2B", "1B"),
    }
    assert flow.tiles["0B"].message == "graph failed: no space left"
    assert await flow.ready() == {"0A"}
    assert await flow.roots() == {"0A", "1B"}
    assert await flow.download(1)
    assert await flow.ready() == {"0A", "1B"}  # the new root starts with its scene; 1A waits for 0A
    assert await flow.job("1B") == (None, None)

    # A: the root fails while its dependant's scene is DONE: the new root starts at once.
    assert await flow.process("0A", FAILED, "fatal")
    assert await flow.tile_states("0A", "1A", "2A", "3A") == {
        "0A": ("FAILED", None, None),
        "1A": ("PENDING", None, None),
        "2A": ("NEW", "1A", "1A"),
        "3A": ("NEW", "2A", "1A"),
    }
    assert await flow.ready() == {"1A", "1B"}
    assert await flow.job("1A") == (None, None)
    assert await flow.roots() == {"1A", "1B"}
    assert await flow.aoi_status() == "PENDING"

    assert await flow.process("1A")
    assert await flow.download(2)
    assert await flow.job("2A") == ("1A", "1A")  # the reference moved to the new root
    assert await flow.download(3)
    await flow.drain()
    assert {k: v[0] for k, v in (await flow.tile_states()).items()} == {
        "0A": "FAILED",
        "0B": "FAILED",
        "1A": "DONE",
        "1B": "DONE",
        "2A": "DONE",
        "2B": "DONE",
        "3A": "DONE",
        "3B": "DONE",
    }
    assert await flow.leaves() == {"3A", "3B"}
    assert await flow.aoi_status() == "DONE"


async def test_middle_failure_dependant_inherits_previous(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(4), retry_count=1)
    for i in range(4):
        assert await flow.download(i)
    assert await flow.process("0A")
    assert await flow.ready() == {"0B", "1A"}

    # 1A fails with its previous DONE: 2A inherits 0A and starts at once, without using a retry.
    assert await flow.process("1A", FAILED, "bad burst")
    assert await flow.tile_states("0A", "1A", "2A", "3A") == {
        "0A": ("DONE", None, None),
        "1A": ("FAILED", None, "0A"),
        "2A": ("PENDING", "0A", "0A"),
        "3A": ("NEW", "2A", "0A"),
    }
    assert (flow.tiles["1A"].message, flow.tiles["2A"].retry_countdown) == ("bad burst", 1)  # C10
    assert await flow.job("2A") == ("0A", "0A")

    # 1B fails (forced) while its previous 0B is still PENDING: 2B inherits 0B but waits for it (C10;
    # the reference would dispatch 2B before 0B is done).
    assert await flow.set_tile("1B", FAILED, force=True)
    assert await flow.tile_states("0B", "1B", "2B") == {
        "0B": ("PENDING", None, None),
        "1B": ("FAILED", None, "0B"),
        "2B": ("NEW", "0B", "0B"),
    }
    assert await flow.ready() == {"0B", "2A"}
    assert await flow.process("0B")
    assert await flow.ready() == {"2A", "2B"}
    assert await flow.job("2B") == ("0B", "0B")
    assert flow.tiles["2B"].retry_countdown == 1

    await flow.drain()
    assert await flow.leaves() == {"3A", "3B"}
    assert await flow.roots() == {"0A", "0B"}
    assert await flow.aoi_status() == "DONE"


async def test_leaf_failure_and_forced_retry_of_a_failed_tile(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(4))
    for i in range(4):
        assert await flow.download(i)
    for label in ("0A", "0B", "1A", "1B", "2A", "2B"):
        assert await flow.process(label)
    assert await flow.ready() == {"3A", "3B"}
    assert await flow.process("3A", FAILED, "leaf error")
    assert (await flow.tile_states("3A"))["3A"] == ("FAILED", None, "0A")
    assert flow.tiles["3A"].message == "leaf error"
    assert await flow.leaves() == {"2A", "3B"}  # a FAILED tile is neither a leaf nor a dependant
    assert await flow.aoi_status() == "PENDING"
    assert await flow.process("3B")
    assert await flow.aoi_status() == "DONE"  # DONE and FAILED tiles only

    # Forced retry of the FAILED leaf: it was detached from its previous, so it runs without one (as the
    # reference), with its reference and a countdown below zero.
    assert await flow.set_tile("3A", PENDING, force=True)
    assert (await flow.tile_states("3A"))["3A"] == ("PENDING", None, "0A")
    assert flow.tiles["3A"].retry_countdown == -1
    assert await flow.aoi_status() == "PENDING"
    assert await flow.job("3A") == (None, "0A")
    assert await flow.process("3A")
    await flow.refresh()
    assert flow.tiles["3A"].message == "leaf error"  # messages are never cleared (spec §11.8)
    assert await flow.aoi_status() == "DONE"


async def test_automatic_retries_until_the_countdown_ends(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(2), retry_count=2)

    # Scene: two automatic retries (PENDING, countdown 1 then 0, message not stored), then RETRY.
    for countdown in (1, 0):
        assert await flow.download(0, RETRY, f"timeout {countdown}")
        await flow.refresh()
        scene = flow.scenes[0]
        assert (name(scene.status), scene.retry_countdown, scene.message) == ("PENDING", countdown, "")
        assert await flow.aoi_status() == "PENDING"  # an automatic retry is no AOI RETRY
    assert await flow.download(0, RETRY, "timeout final")
    await flow.refresh()
    assert (name(flow.scenes[0].status), flow.scenes[0].retry_countdown) == ("RETRY", 0)
    assert flow.scenes[0].message == "timeout final"
    assert await flow.aoi_status() == "RETRY"
    assert 1 in flow.downloads and await flow.take_downloads() == []  # no task left for scene 0
    assert await flow.download(1)
    assert await flow.aoi_status() == "RETRY"  # a RETRY scene outranks everything
    assert await flow.ready() == set()

    # PUT retry: RETRY -> PENDING (countdown below zero), then downloaded.
    assert await flow.set_scene(0, PENDING)
    await flow.refresh()
    assert (name(flow.scenes[0].status), flow.scenes[0].retry_countdown) == ("PENDING", -1)
    assert await flow.aoi_status() == "PENDING"
    assert await flow.download(0)
    await flow.refresh()
    assert flow.scenes[0].message == "timeout final"  # messages are never cleared (spec §11.8)

    # Tile: the same countdown, then RETRY blocks its dependant.
    assert await flow.ready() == {"0A", "0B"}
    for countdown in (1, 0):
        assert await flow.process("0A", RETRY, f"proc {countdown}")
        states = await flow.tile_states("0A")
        assert (states["0A"][0], flow.tiles["0A"].retry_countdown) == ("PENDING", countdown)
        assert await flow.aoi_status() == "PENDING"
        assert "0A" in await flow.ready()  # re-queued at once
    assert await flow.process("0A", RETRY, "proc final")
    await flow.refresh()
    assert (name(flow.tiles["0A"].status), flow.tiles["0A"].message) == ("RETRY", "proc final")
    assert await flow.aoi_status() == "RETRY"
    assert await flow.ready() == {"0B"}  # 1A waits for 0A

    assert await flow.set_tile("0A", PENDING)  # PUT retry
    assert await flow.aoi_status() == "PENDING"
    assert await flow.process("0A")
    assert await flow.ready() == {"0B", "1A"}
    await flow.drain()
    await flow.refresh()
    assert (flow.tiles["0A"].message, flow.tiles["0A"].retry_countdown) == ("proc final", -1)
    assert await flow.aoi_status() == "DONE"


async def test_forced_retries(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(3))
    for i in range(3):
        assert await flow.download(i)

    # Forced PENDING from RETRY.
    assert await flow.process("0A", RETRY, "flaky")  # countdown 0: RETRY at once
    assert (await flow.tile_states("0A"))["0A"][0] == "RETRY"
    assert await flow.set_tile("0A", PENDING, force=True)
    assert (await flow.tile_states("0A"))["0A"][0] == "PENDING"
    assert flow.tiles["0A"].retry_countdown == -1
    assert await flow.job("0A") == (None, None)

    # Retrying a tile whose previous is not DONE is refused, forced or not.
    message = await refused(flow.set_tile("1B", PENDING, force=True))
    assert message == "cannot retry tile when previous is PENDING"
    assert not await flow.set_tile("1B", PENDING)  # NEW -> PENDING: not a transition
    assert (await flow.tile_states("1B"))["1B"] == ("NEW", "0B", "0B")
    assert flow.tiles["1B"].retry_countdown == 0
    assert await flow.ready() == {"0A", "0B"}  # nothing was queued for 1B

    # Forced PENDING from FAILED (a middle tile: it runs without previous, its dependant was healed).
    assert await flow.process("0A")
    assert await flow.process("1A", FAILED, "broken")
    assert await flow.tile_states("1A", "2A") == {"1A": ("FAILED", None, "0A"), "2A": ("PENDING", "0A", "0A")}
    assert await flow.set_tile("1A", PENDING, force=True)
    assert await flow.job("1A") == (None, "0A")

    # Non-forced retry needs the scene DONE; forced does not check it (as the reference).
    assert await flow.process("0B")
    assert await flow.process("1B", RETRY, "flaky")
    assert await flow.set_scene(1, PENDING, force=True)  # re-download scene 1
    assert (await flow.scene_states())[1] == "PENDING"
    message = await refused(flow.set_tile("1B", PENDING))
    assert message == "cannot retry tile with scene status PENDING"
    assert (await flow.tile_states("1B"))["1B"][0] == "RETRY"
    assert await flow.set_tile("1B", PENDING, force=True)
    assert await flow.job("1B") == ("0B", "0B")

    # Unknown ids.
    for call in (flow.stubs.workflow.UpdateTileStatus, flow.stubs.workflow.UpdateSceneStatus):
        await refused(
            call(workflow_pb2.UpdateStatusRequest(id=999999, status=PENDING), timeout=T),
            grpc.StatusCode.NOT_FOUND,
        )
        await refused(
            call(workflow_pb2.UpdateStatusRequest(id=999999, status=PENDING, force=True), timeout=T),
            grpc.StatusCode.NOT_FOUND,
        )
    await refused(
        flow.stubs.workflow.UpdateTileStatus(
            workflow_pb2.UpdateStatusRequest(id=flow.tid("1B"), status=types_pb2.STATUS_UNSPECIFIED),
            timeout=T,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_failing_a_scene_heals_its_tiles_or_is_refused(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(4))
    assert await flow.take_downloads() == [0, 1, 2, 3]

    # PUT fail on a PENDING scene: its NEW tiles fail, their dependants inherit their previous.
    assert await flow.set_scene(1, FAILED)
    assert await flow.scene_states() == {0: "PENDING", 1: "FAILED", 2: "PENDING", 3: "PENDING"}
    assert flow.scenes[1].message == ""
    assert await flow.tile_states("1A", "1B", "2A", "2B") == {
        "1A": ("FAILED", None, "0A"),
        "1B": ("FAILED", None, "0B"),
        "2A": ("NEW", "0A", "0A"),
        "2B": ("NEW", "0B", "0B"),
    }
    assert await flow.download(0)
    message = await refused(report(stubs.tasks, flow.downloads.pop(1), DONE))  # its lease was cancelled
    assert "lease no longer held" in message
    assert await flow.ready() == {"0A", "0B"}
    assert await flow.download(2)
    assert await flow.ready() == {"0A", "0B"}  # 2A/2B wait for their new previous tiles (C10)
    assert await flow.process("0A")
    assert await flow.ready() == {"0B", "2A"}
    assert await flow.job("2A") == ("0A", "0A")

    # A worker fails a scene: the result message is stored on the scene, its tiles keep theirs.
    assert await flow.download(3, FAILED, "product offline")
    await flow.refresh()
    assert (name(flow.scenes[3].status), flow.scenes[3].message) == ("FAILED", "product offline")
    assert await flow.tile_states("3A", "3B") == {"3A": ("FAILED", None, "0A"), "3B": ("FAILED", None, "0B")}
    assert flow.tiles["3A"].message == ""
    assert await flow.leaves() == {"2A", "2B"}

    # Refused once a tile has started: forced, and non-forced after a forced re-download.
    message = await refused(flow.set_scene(0, FAILED, force=True))
    assert re.fullmatch(rf"unconsistency: tile {flow.tid('0A')} status DONE", message), message
    assert not await flow.set_scene(0, FAILED)  # DONE -> FAILED is not a transition
    assert await flow.set_scene(0, PENDING, force=True)
    message = await refused(flow.set_scene(0, FAILED))
    assert message.startswith("unconsistency: tile "), message
    assert (await flow.scene_states())[0] == "PENDING"  # nothing changed, its download is still queued
    assert await flow.tile_states("0A", "0B") == {"0A": ("DONE", None, None), "0B": ("PENDING", None, None)}
    assert await flow.take_downloads() == [0]
    assert await flow.download(0)
    assert await flow.aoi_status() == "PENDING"
    await flow.drain()
    assert await flow.aoi_status() == "DONE"
    assert await flow.scene_states() == {0: "DONE", 1: "FAILED", 2: "DONE", 3: "FAILED"}


async def test_new_dates_join_the_chain_at_its_leaves(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(2))
    for i in range(2):
        assert await flow.download(i)
    await flow.drain()
    assert await flow.aoi_status() == "DONE"

    async def links() -> dict[str, tuple[models.TileRef, models.TileRef]]:
        graph = workflow_pb2.ListGraphTilesRequest(aoi=flow.aoi)
        leaves = (await stubs.workflow.ListLeafTiles(graph, timeout=T)).tiles
        roots = {t.source_id: t for t in (await stubs.workflow.ListRootTiles(graph, timeout=T)).tiles}
        for tile in leaves:
            assert tile.scene.aoi == flow.aoi and tile.scene.source_id and tile.status != FAILED
        return {t.source_id: (ref_to(t), ref_to(roots[t.source_id])) for t in leaves}

    # One scene through the workflow API (the reference's POST /aoi/{aoi}/scene).
    scene = catalog_scene(flow.aoi, 2, SERIES, links=await links())
    answer = await stubs.workflow.IngestScene(
        workflow_pb2.IngestSceneRequest(aoi=flow.aoi, scene=pc.catalog_scene_to_proto(scene), retry_count=1),
        timeout=T,
    )
    await flow.refresh()
    assert answer.id == flow.sid(2)
    assert flow.tiles["2A"].retry_countdown == 1
    assert await flow.tile_states("2A", "2B") == {"2A": ("NEW", "1A", "0A"), "2B": ("NEW", "1B", "0B")}
    assert await flow.aoi_status() == "PENDING"
    await refused(
        stubs.workflow.IngestScene(
            workflow_pb2.IngestSceneRequest(aoi=flow.aoi, scene=pc.catalog_scene_to_proto(scene)), timeout=T
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert await flow.download(2)
    assert await flow.ready() == {"2A", "2B"}  # their previous tiles are DONE already
    assert await flow.job("2A") == ("1A", "0A")

    # The next date through IngestArea with the tiles given, linked to the new leaves.
    assert {ref.scene_id for ref, _ in (await links()).values()} == {scene_name(2)}
    tiled = catalog_scene(flow.aoi, 3, SERIES, links=await links())
    answer = await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(
            area=area(flow.aoi, 0), tiles=catalogue_pb2.SceneList(scenes=[pc.catalog_scene_to_proto(tiled)])
        ),
        timeout=T,
    )
    assert (answer.scene_count, answer.tile_count) == (1, 2)
    assert await flow.tile_states("3A", "3B") == {"3A": ("NEW", "2A", "0A"), "3B": ("NEW", "2B", "0B")}
    assert await flow.download(3)
    assert await flow.ready() == {"2A", "2B"}
    assert await flow.process("2A")
    assert await flow.job("3A") == ("2A", "0A")

    # A link to a FAILED tile is refused and writes nothing.
    assert await flow.process("2B", FAILED, "x")
    stale = {
        b: (models.TileRef(b, scene_name(2), date_of(2)), models.TileRef(b, scene_name(0), date_of(0)))
        for b in SERIES
    }
    bad = catalog_scene(flow.aoi, 4, SERIES, links=stale)
    message = await refused(
        stubs.workflow.IngestScene(
            workflow_pb2.IngestSceneRequest(aoi=flow.aoi, scene=pc.catalog_scene_to_proto(bad)), timeout=T
        )
    )
    assert "FAILED" in message
    await flow.refresh()
    assert sorted(flow.scenes) == [0, 1, 2, 3]
    good = catalog_scene(flow.aoi, 4, SERIES, links=await links())
    assert {ref.scene_id for ref, _ in (await links()).values()} == {scene_name(3)}
    await stubs.workflow.IngestScene(
        workflow_pb2.IngestSceneRequest(aoi=flow.aoi, scene=pc.catalog_scene_to_proto(good)), timeout=T
    )
    assert await flow.tile_states("4A", "4B") == {"4A": ("NEW", "3A", "0A"), "4B": ("NEW", "3B", "0B")}


async def test_retry_aoi(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(4))
    for i, status in enumerate((DONE, DONE, RETRY, DONE)):
        assert await flow.download(i, status, "download error" if status == RETRY else "")
    assert await flow.process("0A")
    assert await flow.process("0B", RETRY, "p0")
    assert await flow.process("1A", RETRY, "p1")
    assert await flow.scene_states() == {0: "DONE", 1: "DONE", 2: "RETRY", 3: "DONE"}
    assert {k: v[0] for k, v in (await flow.tile_states()).items()} == {
        "0A": "DONE",
        "0B": "RETRY",
        "1A": "RETRY",
        "1B": "NEW",
        "2A": "NEW",
        "2B": "NEW",
        "3A": "NEW",
        "3B": "NEW",
    }
    assert await flow.aoi_status() == "RETRY"

    # Non-forced: what is in RETRY.
    assert await flow.retry_aoi(force=False) == (1, 2, [])
    assert await flow.scene_states() == {0: "DONE", 1: "DONE", 2: "PENDING", 3: "DONE"}
    assert flow.scenes[2].retry_countdown == -1
    assert {k: v[0] for k, v in (await flow.tile_states("0B", "1A")).items()} == {
        "0B": "PENDING",
        "1A": "PENDING",
    }
    assert await flow.aoi_status() == "PENDING"
    assert await flow.retry_aoi(force=False) == (0, 0, [])

    assert await flow.download(2, RETRY, "download error again")
    assert await flow.process("0B", FAILED, "fatal")  # 1B becomes the root of B
    assert await flow.process("1A", RETRY, "p1 again")
    assert await flow.ready() == {"1B"}  # held: a live lease
    assert await flow.tile_states() == {
        "0A": ("DONE", None, None),
        "0B": ("FAILED", None, None),
        "1A": ("RETRY", "0A", "0A"),
        "1B": ("PENDING", None, None),
        "2A": ("NEW", "1A", "0A"),
        "2B": ("NEW", "1B", "1B"),
        "3A": ("NEW", "2A", "0A"),
        "3B": ("NEW", "2B", "1B"),
    }

    # Forced: every scene not DONE (the reference also re-downloads DONE scenes, spec §11.7) and every
    # NEW/RETRY/FAILED tile of a DONE scene; refusals are reported, the others retried.
    scenes, tiles, errors = await flow.retry_aoi(force=True)
    assert (scenes, tiles) == (1, 2)
    assert sorted(errors) == sorted(
        f"tile {flow.tid(t)}: cannot retry tile when previous is NEW" for t in ("3A", "3B")
    )
    assert await flow.take_downloads() == [2]  # DONE scenes are not downloaded again
    assert {k: v[0] for k, v in (await flow.tile_states()).items()} == {
        "0A": "DONE",
        "0B": "PENDING",
        "1A": "PENDING",
        "1B": "PENDING",
        "2A": "NEW",
        "2B": "NEW",
        "3A": "NEW",
        "3B": "NEW",
    }
    assert await flow.ready() == {"0B", "1A", "1B"}
    assert await flow.job("0B") == (None, None)
    assert await flow.job("1A") == ("0A", "0A")
    await stubs.tasks.Heartbeat(
        tasks_pb2.HeartbeatRequest(
            task_id=flow.processes["1B"].task_id, lease_token=flow.processes["1B"].lease_token
        ),
        timeout=T,
    )
    assert await flow.download(2)
    await flow.drain()
    assert await flow.aoi_status() == "DONE"


async def test_delete_aoi_cancels_queued_and_leased_tasks(stubs: Any) -> None:
    await register_layers(stubs)
    flow, other = Flow(stubs), Flow(stubs, aoi="Other")
    await flow.ingest(range(2))
    assert await flow.download(0)
    assert await flow.ready() == {"0A", "0B"}
    assert await flow.process("0B")  # 1B's scene is not downloaded: nothing queued for it
    assert list(flow.downloads) == [1]
    await other.ingest(range(1))
    # Live: download of date 1 (leased), 0A (leased); 0B is DONE.
    answer = await stubs.workflow.DeleteAoi(workflow_pb2.DeleteAoiRequest(aoi=flow.aoi), timeout=T)
    assert (answer.existed, answer.cancelled_tasks) == (True, 2)

    for task in (flow.downloads[1], flow.processes["0A"]):
        await refused(
            stubs.tasks.Heartbeat(
                tasks_pb2.HeartbeatRequest(task_id=task.task_id, lease_token=task.lease_token), timeout=T
            )
        )
        await refused(report(stubs.tasks, task, DONE))
    assert await lease(stubs.tasks, PROCESS) is None
    assert await other.take_downloads() == [0]  # the other AOI is untouched
    await refused(
        stubs.catalogue.GetScene(catalogue_pb2.GetSceneRequest(id=flow.sid(0)), timeout=T),
        grpc.StatusCode.NOT_FOUND,
    )
    aois = await stubs.catalogue.ListAois(catalogue_pb2.ListAoisRequest(), timeout=T)
    assert [a.id for a in aois.aois] == ["Other"]
    assert await flow.aoi_status() == "UNSPECIFIED"
    answer = await stubs.workflow.DeleteAoi(workflow_pb2.DeleteAoiRequest(aoi=flow.aoi), timeout=T)
    assert (answer.existed, answer.cancelled_tasks) == (False, 0)

    # Queued (not leased) tasks go too.
    assert await other.download(0)
    assert (
        await stubs.workflow.DeleteAoi(workflow_pb2.DeleteAoiRequest(aoi="Other"), timeout=T)
    ).cancelled_tasks == 2
    assert await lease(stubs.tasks, PROCESS) is None


async def test_manual_change_cancels_the_live_task(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(2), retry_count=3)
    assert await flow.take_downloads() == [0, 1]
    old = flow.downloads[0]

    assert await flow.set_scene(0, DONE)  # PENDING -> DONE by hand while a worker downloads it
    await refused(report(stubs.tasks, old, DONE))
    await refused(
        stubs.tasks.Heartbeat(
            tasks_pb2.HeartbeatRequest(task_id=old.task_id, lease_token=old.lease_token), timeout=T
        )
    )
    flow.downloads.pop(0)
    assert await flow.ready() == {"0A", "0B"}

    live = flow.processes["0A"]
    assert await flow.set_tile("0A", RETRY, force=True)
    assert await flow.aoi_status() == "RETRY"
    await refused(report(stubs.tasks, live, DONE))
    flow.processes.pop("0A")
    assert await flow.ready() == {"0B"}

    assert await flow.set_tile("0A", PENDING, force=True)  # a new task, a new lease
    assert await flow.ready() == {"0A", "0B"}
    assert flow.processes["0A"].lease_token != live.lease_token
    await refused(report(stubs.tasks, live, DONE))  # the old lease stays refused
    assert await flow.process("0A")

    live = flow.processes["0B"]
    assert await flow.set_tile("0B", FAILED)  # PUT fail on a running tile
    await refused(report(stubs.tasks, live, DONE))
    flow.processes.pop("0B")
    assert await flow.tile_states("0B", "1B") == {"0B": ("FAILED", None, None), "1B": ("NEW", None, None)}

    # Forcing PENDING on a PENDING item keeps the live lease (one live task per item).
    live = flow.downloads[1]
    assert await flow.set_scene(1, PENDING, force=True)
    assert await flow.take_downloads() == []
    assert flow.downloads[1] is live
    assert await flow.download(1)
    await flow.refresh()
    assert flow.scenes[1].retry_countdown == 2
    await flow.drain()
    assert await flow.aoi_status() == "DONE"


async def test_aoi_status_priorities(stubs: Any) -> None:
    await register_layers(stubs)
    await stubs.workflow.CreateAoi(workflow_pb2.CreateAoiRequest(aoi="Empty"), timeout=T)
    assert await Flow(stubs, aoi="Empty").aoi_status() == "NEW"
    await refused(
        stubs.workflow.CreateAoi(workflow_pb2.CreateAoiRequest(aoi="Empty"), timeout=T),
        grpc.StatusCode.ALREADY_EXISTS,
    )

    flow = Flow(stubs)
    await flow.ingest(range(2))
    assert await flow.aoi_status() == "PENDING"  # scenes PENDING
    assert await flow.download(0)
    assert await flow.download(1)
    assert await flow.aoi_status() == "PENDING"  # scenes DONE, tiles PENDING and NEW
    assert await flow.set_scene(1, NEW, force=True)
    assert await flow.aoi_status() == "NEW"  # a NEW scene outranks DONE ones
    assert await flow.set_scene(1, DONE, force=True)
    assert await flow.aoi_status() == "PENDING"
    assert await flow.set_tile("0A", RETRY, force=True)
    assert await flow.aoi_status() == "RETRY"  # a requested RETRY sets the AOI RETRY directly
    assert await flow.set_tile("0B", NEW, force=True)
    assert await flow.aoi_status() == "RETRY"  # RETRY > NEW
    assert await flow.set_tile("0A", NEW, force=True)
    assert await flow.aoi_status() == "NEW"  # the tiles of the DONE scenes are all NEW
    assert await flow.set_tile("1A", DONE, force=True)
    assert await flow.aoi_status() == "NEW"  # NEW > DONE
    assert await flow.set_tile("0B", PENDING, force=True)
    assert await flow.aoi_status() == "PENDING"
    assert await flow.set_tile("0A", PENDING, force=True)
    assert await flow.process("0B", FAILED, "fatal")
    await flow.drain()
    assert {k: v[0] for k, v in (await flow.tile_states()).items()} == {
        "0A": "DONE",
        "0B": "FAILED",
        "1A": "DONE",
        "1B": "DONE",
    }
    assert await flow.aoi_status() == "DONE"  # DONE > FAILED

    failed = Flow(stubs, aoi="AllFailed")
    await failed.ingest(range(1))
    assert await failed.download(0, FAILED, "gone")
    assert await failed.aoi_status() == "FAILED"

    mixed = Flow(stubs, aoi="Mixed")
    await mixed.ingest(range(2))
    assert await mixed.take_downloads() == [0, 1]
    assert await mixed.download(0, RETRY, "later")
    assert await mixed.aoi_status() == "RETRY"
    assert await mixed.download(1)
    assert await mixed.aoi_status() == "RETRY"  # recomputed: a RETRY scene outranks PENDING tiles


async def test_aoi_dot(stubs: Any) -> None:
    await register_layers(stubs)
    flow = Flow(stubs, aoi="dot-test:1")
    await flow.ingest(range(3))
    assert await flow.download(0)
    assert await flow.process("0A")
    assert await flow.process("0B", FAILED, "x")  # 1B becomes the root of B
    assert await flow.set_tile("1A", DONE, force=True)
    assert await flow.download(1, RETRY, "later")
    await flow.refresh()
    s = [flow.sid(i) for i in range(3)]
    t = {label: flow.tid(label) for label in flow.tiles}
    colors = {"0A": "green", "0B": "red", "1A": "green", "1B": "gray", "2A": "gray", "2B": "gray"}
    expected = [
        # The graph name is quoted and dotted tile edges carry their style in brackets, unlike the
        # reference (spec §11.12), so that DOT parsers read AOI names with '-' or ':'.
        'digraph "dot-test:1" {',
        *(
            f's{s[i]} [label="{scene_name(i)}\\n(id={s[i]})" shape=box color={c}];'
            for i, c in enumerate(("green", "orange", "blue"))
        ),
        *(
            f't{t[label]} [label="{flow.tiles[label].source_id}\\n(id={t[label]})" color={c}];'
            for label, c in colors.items()
        ),
        f"s{s[0]} -> t{t['0A']} [color=gray];",
        f"s{s[0]} -> t{t['0B']} [color=gray];",
        f"s{s[1]} -> t{t['1A']} [color=gray style=dotted];",
        f"t{t['0A']} -> t{t['1A']};",
        f"s{s[1]} -> t{t['1B']} [color=gray style=dotted];",
        f"s{s[2]} -> t{t['2A']} [color=gray style=dotted];",
        f"t{t['1A']} -> t{t['2A']} [style=dotted];",
        f"s{s[2]} -> t{t['2B']} [color=gray style=dotted];",
        f"t{t['1B']} -> t{t['2B']} [style=dotted];",
        "}",
    ]
    dot = (await stubs.workflow.GetAoiDot(workflow_pb2.GetAoiDotRequest(aoi=flow.aoi), timeout=T)).dot
    assert dot.splitlines() == expected and dot.endswith("}\n")
    empty = (await stubs.workflow.GetAoiDot(workflow_pb2.GetAoiDotRequest(aoi='Nowhere "x"'), timeout=T)).dot
    assert empty == 'digraph "Nowhere \\"x\\"" {\n}\n'


async def test_two_catalogues_lease_every_task_once(
    stubs: Any, pg_dsn: str, archive_dir: pathlib.Path
) -> None:
    """Two catalogue replicas on one database, several workers leasing from each while downloads and
    processing interleave: every task is leased exactly once, every result applies once, and every
    tile runs after its previous tile."""
    await register_layers(stubs)
    n_dates, series = 8, tuple(f"A44_IW{1 + k % 3}_{8951 + k}" for k in range(4))
    flow = Flow(stubs, series=series)
    second = await app.start(
        CatalogueSettings(
            database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive_dir), lease_seconds=60
        )
    )
    leases: list[tuple[str, int, int, int]] = []  # (server, kind, task id, item id)
    done: list[int] = []  # tile ids in the order they were reported DONE
    finished = asyncio.Event()
    rng = random.Random(1)

    async def worker(server: str, tasks: Any, kind: int) -> None:
        while not finished.is_set():
            task = await lease(tasks, kind, wait=1, worker=f"{server}-{kind}")
            if task is None:
                continue
            job = task.process
            item = task.download.scene.id if kind == DOWNLOAD else job.tile.id
            leases.append((server, kind, task.task_id, item))
            if kind == PROCESS and job.HasField("previous"):
                assert job.previous.status == DONE and job.previous.id in done
            await asyncio.sleep(rng.uniform(0, 0.01))  # simulated work, not a wait for a state
            if kind == PROCESS:
                done.append(item)  # before the report: a dependant can only be leased after it commits
            assert await report(tasks, task, DONE)

    async def watch() -> None:
        known = types_pb2.STATUS_UNSPECIFIED
        while known != DONE:
            answer = await stubs.catalogue.WaitAoiStatus(
                catalogue_pb2.WaitAoiStatusRequest(
                    aoi=flow.aoi, known=known, wait=duration_pb2.Duration(seconds=30)
                ),
                timeout=40,
            )
            known = answer.status
        finished.set()

    try:
        async with grpc.aio.insecure_channel(second.target) as channel:
            servers = {"one": stubs.tasks, "two": tasks_pb2_grpc.TasksStub(channel)}
            try:
                async with asyncio.timeout(60), asyncio.TaskGroup() as group:
                    for server, tasks in servers.items():
                        for kind, count in ((DOWNLOAD, 2), (PROCESS, 3)):
                            for _ in range(count):
                                group.create_task(worker(server, tasks, kind))
                    group.create_task(watch())
                    await flow.ingest(range(n_dates))
            except TimeoutError:
                pytest.fail(
                    f"AOI not DONE: scenes {await flow.scene_states()}, tiles {await flow.tile_states()}"
                )
    finally:
        await second.stop(grace=0.5)

    downloads = [item for _, kind, _, item in leases if kind == DOWNLOAD]
    processes = [item for _, kind, _, item in leases if kind == PROCESS]
    assert sorted(downloads) == sorted(s.id for s in flow.scenes.values())
    assert sorted(processes) == sorted(done) == sorted(t.id for t in flow.tiles.values())
    assert len({task_id for _, _, task_id, _ in leases}) == len(leases)
    assert {server for server, *_ in leases} == {"one", "two"}
    states = await flow.tile_states()
    assert states == {
        label: ("DONE", prev, ref) for label, (_, prev, ref) in chain(n_dates, LETTERS[: len(series)]).items()
    }
    for label, (_, prev, _) in states.items():
        if prev is not None:
            assert done.index(flow.tid(prev)) < done.index(flow.tid(label)), label
    assert await flow.aoi_status() == "DONE"


async def test_download_and_previous_tile_done_at_once(
    stubs: Any, pg_dsn: str, archive_dir: pathlib.Path
) -> None:
    """A scene's download and the previous tiles of its tiles reported DONE at the same instant, on two
    replicas: whichever commits last must release the tiles (neither may miss the other's change)."""
    await register_layers(stubs)
    n_dates, series = 6, tuple(f"A44_IW{1 + k % 3}_{8951 + k}" for k in range(6))
    flow = Flow(stubs, series=series)
    second = await app.start(
        CatalogueSettings(
            database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive_dir), lease_seconds=60
        )
    )
    try:
        async with grpc.aio.insecure_channel(second.target) as channel:
            other = tasks_pb2_grpc.TasksStub(channel)
            await flow.ingest(range(n_dates))
            assert await flow.take_downloads() == list(range(n_dates))
            assert await flow.download(0)
            for i in range(1, n_dates):
                labels = {f"{i - 1}{LETTERS[k]}" for k in range(len(series))}
                assert await flow.ready() == labels
                results = await asyncio.gather(
                    report(other, flow.downloads.pop(i), DONE),
                    *(report(stubs.tasks, flow.processes.pop(label), DONE) for label in labels),
                )
                assert all(results)
                states = await flow.tile_states(*(f"{i}{LETTERS[k]}" for k in range(len(series))))
                assert {state for state, _, _ in states.values()} == {"PENDING"}, states
    finally:
        await second.stop(grace=0.5)
    await flow.drain()
    assert await flow.aoi_status() == "DONE"


async def _no_download_left(flow: Flow) -> None:
    """Nothing is left to lease nor leased: the scene cannot loop through lease expiries."""
    assert await lease(flow.stubs.tasks, DOWNLOAD) is None
    assert not flow.downloads


@pytest.mark.parametrize("how", ["retry-aoi-force", "force-retry-then-retry"])
async def test_failed_scene_retried_and_failing_again_ends_failed(stubs: Any, how: str) -> None:
    """A FAILED scene (so its tiles are FAILED) retried by hand, whose download fails again: the worker's
    FAILED report is applied — the scene ends FAILED with the new message — instead of being refused
    ("unconsistency: tile N status FAILED") and the scene re-leased forever (issue 11)."""
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(2))
    assert await flow.download(0)
    assert await flow.download(1, FAILED, "product offline")
    assert await flow.tile_states("1A", "1B") == {"1A": ("FAILED", None, "0A"), "1B": ("FAILED", None, "0B")}
    if how == "retry-aoi-force":
        scenes, _, errors = await flow.retry_aoi(force=True)
        assert scenes == 1 and not [e for e in errors if e.startswith("scene")]
    else:
        assert await flow.set_scene(1, RETRY, force=True)
        assert await flow.set_scene(1, PENDING)
    assert (await flow.scene_states())[1] == "PENDING"
    assert await flow.take_downloads() == [1]
    assert await flow.download(1, FAILED, "product still offline")
    await flow.refresh()
    assert (name(flow.scenes[1].status), flow.scenes[1].message) == ("FAILED", "product still offline")
    assert {k: v[0] for k, v in (await flow.tile_states("1A", "1B")).items()} == {"1A": "FAILED", "1B": "FAILED"}
    await _no_download_left(flow)
    await flow.drain()
    assert await flow.aoi_status() == "DONE"  # the reference's priorities: FAILED items do not count


async def test_downloaded_scene_redownloaded_and_failing_ends_retry(stubs: Any) -> None:
    """A DONE scene whose tiles were processed, forced back to PENDING, whose download then fails: it
    cannot become FAILED (its tiles are past NEW), so it ends RETRY with the worker's message rather than
    bouncing between lease expiries."""
    await register_layers(stubs)
    flow = Flow(stubs)
    await flow.ingest(range(1))
    assert await flow.download(0)
    assert await flow.process("0A")
    assert await flow.set_scene(0, PENDING, force=True)
    assert await flow.download(0, FAILED, "product gone")
    await flow.refresh()
    assert name(flow.scenes[0].status) == "RETRY"
    assert flow.scenes[0].message.startswith("product gone (left RETRY: unconsistency: tile ")
    await _no_download_left(flow)
    assert {k: v[0] for k, v in (await flow.tile_states()).items()} == {"0A": "DONE", "0B": "PENDING"}
