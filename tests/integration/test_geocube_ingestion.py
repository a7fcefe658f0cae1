"""Ingestion against a Geocube server: the real catalogue (and gateway) with GEOCUBE_CATALOGUE_GEOCUBE_SERVER
pointing at a loopback server speaking the Geocube's gRPC API (tests/support/geocube_server.py).

Layers are checked against the Geocube's variables and instances (a refused layer is a 400 naming it),
records are created there and reused by a later ingestion, records an ingestion did not keep are deleted,
and an unreachable Geocube is a 503 / UNAVAILABLE that a retry gets past once it is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import pathlib
from collections.abc import AsyncIterator

import grpc
import httpx
import psycopg
import pytest

from gateway.app import serve
from gateway.settings import GatewaySettings
from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from tests.support.geocube_server import FakeGeocube

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"
BANDS = [f"B{n:02d}" for n in range(1, 13)]
TIMEOUT = 60.0
TOKEN = "geocube-api-key"
DENMARK_WKT = (
    "MULTIPOLYGON(((10.061230468750068 54.88637695312502,9.957128906249977 54.87246093750002,"
    "9.903906250000063 54.896630859374994,9.80625 54.90600585937503,9.77119140625004 55.059912109375034,"
    "9.78125 55.06904296875001,9.830371093750015 55.05825195312505,9.998828125000045 54.986474609374994,"
    "10.05771484375006 54.90791015624998,10.061230468750068 54.88637695312502)))"
)
RECORD_TAGS = {"source": "tutorial", "provider": "geocube-ingester"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[str]]:
    root = tmp_path_factory.mktemp("geocube-archive")
    return root, build_demo_archive(root, count=3, band_size=16)


@pytest.fixture
async def geocube() -> AsyncIterator[FakeGeocube]:
    server = FakeGeocube(token=TOKEN)
    for band in BANDS:
        server.add_variable(band, ["raw", "toa"])
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def catalogue(
    pg_dsn: str, archive: tuple[pathlib.Path, list[str]], geocube: FakeGeocube
) -> AsyncIterator[catalogue_app.CatalogueApp]:
    settings = CatalogueSettings(
        database_dsn=pg_dsn,
        address="127.0.0.1:0",
        archive_path=str(archive[0]),
        geocube_server=geocube.address,
        geocube_insecure=True,
        geocube_token=TOKEN,
        geocube_timeout=5.0,
    )
    app = await asyncio.wait_for(catalogue_app.start(settings), TIMEOUT)
    yield app
    await asyncio.wait_for(app.stop(grace=0.5), TIMEOUT)


@pytest.fixture
async def stub(catalogue: catalogue_app.CatalogueApp) -> AsyncIterator[catalogue_pb2_grpc.CatalogueStub]:
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        yield catalogue_pb2_grpc.CatalogueStub(channel)


def _area(name: str, layers: dict[str, types_pb2.Layer] | None = None) -> types_pb2.Area:
    area = types_pb2.Area(
        name=name,
        geometry_wkt=DENMARK_WKT,
        scene_type=types_pb2.SceneType(constellation="sentinel2"),
        scene_graph_name="CopyProductToStorage",
        tile_graph_name="library/graph/ExtractS2Bands.json",
        layers=layers
        if layers is not None
        else {b: types_pb2.Layer(variable=b, instance="raw") for b in BANDS},
        record_tags=RECORD_TAGS,
    )
    area.start_time.FromDatetime(dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    area.end_time.FromDatetime(dt.datetime(2022, 1, 12, 23, tzinfo=dt.UTC))
    return area


async def _scenes(stub: catalogue_pb2_grpc.CatalogueStub, aoi: str) -> list[types_pb2.Scene]:
    return list((await stub.ListScenes(catalogue_pb2.ListScenesRequest(aoi=aoi), timeout=TIMEOUT)).scenes)


async def test_ingestion_creates_records_in_the_geocube_and_reuses_them(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube, archive: tuple[pathlib.Path, list[str]]
) -> None:
    layers = {b: types_pb2.Layer(variable=b, instance="raw") for b in BANDS}
    # A layer may also name its instance by id, as the reference allows.
    layers["B02"] = types_pb2.Layer(instance_id=geocube.instance_id("B02", "toa"))
    answer = await stub.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=_area("GcA", layers)), timeout=TIMEOUT
    )
    assert answer.scene_count == len(archive[1])

    scenes = await _scenes(stub, "GcA")
    assert len(geocube.records) == len(scenes) and geocube.calls["CreateRecords"] == 1
    for scene in scenes:
        record = geocube.records[scene.data.record_id]
        assert record.name == scene.source_id
        assert record.time == scene.data.date.ToDatetime(tzinfo=dt.UTC)
        assert record.tags.items() >= RECORD_TAGS.items()
        assert json.loads(record.tags["previous_scenes"]) == [] and "reference_scenes" in record.tags
        assert geocube.aois[record.aoi_id].intersects(geocube.aois[record.aoi_id])  # an AOI it created
        expected = {b: geocube.instance_id(b, "raw") for b in BANDS}
        expected["B02"] = geocube.instance_id("B02", "toa")
        assert dict(scene.data.instances_id) == expected

    # Another AOI over the same scenes finds the records (same name, date and tags): none created.
    again = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=_area("GcB")), timeout=TIMEOUT)
    assert again.scene_count == len(scenes)
    assert geocube.calls["CreateRecords"] == 1 and len(geocube.records) == len(scenes)
    reused = {s.source_id: s.data.record_id for s in await _scenes(stub, "GcB")}
    assert reused == {s.source_id: s.data.record_id for s in scenes}
    assert geocube.calls["ListRecords"] == 2


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (types_pb2.Layer(variable="B99", instance="raw"), "unknown variable B99 in the Geocube"),
        (types_pb2.Layer(variable="B01", instance="nope"), "unknown instance nope for variable B01"),
        (types_pb2.Layer(instance_id="not-an-instance"), "unknown instance id not-an-instance"),
    ],
)
async def test_a_layer_the_geocube_does_not_know_is_refused(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube, layer: types_pb2.Layer, reason: str
) -> None:
    area = _area("GcBad", {"B01": types_pb2.Layer(variable="B01", instance="raw"), "Bx": layer})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("layers.Bx: ") and reason in caught.value.details()
    assert await _scenes(stub, "GcBad") == [] and not geocube.records


async def test_records_of_a_failed_ingestion_are_deleted(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube
) -> None:
    area = _area("GcFail")
    found = await stub.SearchScenes(catalogue_pb2.SearchScenesRequest(area=area), timeout=TIMEOUT)
    tiled = await stub.ListTiles(
        catalogue_pb2.ListTilesRequest(area=area, scenes=found.scenes), timeout=TIMEOUT
    )
    scenes = list(tiled.scenes)
    scenes[-1].aoi = "SomewhereElse"  # refused by the workflow, after the records were created
    request = catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=scenes))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IngestArea(request, timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert geocube.calls["CreateRecords"] == 1 and geocube.calls["DeleteRecords"] == 1
    assert geocube.records == {}


async def test_no_database_transaction_waits_on_the_geocube(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube, pg_dsn: str
) -> None:
    # The Geocube holds the first CreateAOI: meanwhile no connection of the catalogue may sit in an open
    # transaction (a pool connection, and the snapshot, held for as long as the Geocube takes).
    geocube.gates["CreateAOI"] = asyncio.Event()
    ingestion = asyncio.ensure_future(
        stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=_area("GcSlow")), timeout=TIMEOUT)
    )
    try:
        await asyncio.wait_for(geocube.arrived["CreateAOI"].wait(), TIMEOUT)
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'"
            )
            row = await cur.fetchone()
        assert row is not None and row[0] == 0
    finally:
        geocube.gates["CreateAOI"].set()
    answer = await asyncio.wait_for(ingestion, TIMEOUT)
    assert answer.scene_count == len(geocube.records) > 0


async def test_an_unreachable_geocube_is_unavailable_then_ingestion_succeeds(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube, catalogue: catalogue_app.CatalogueApp
) -> None:
    await geocube.stop()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=_area("GcDown")), timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details() == "the Geocube is unavailable (GetVariable: UNAVAILABLE), retry later"
    assert await _scenes(stub, "GcDown") == []

    await geocube.start()  # back, same port and data
    # What a client retrying UNAVAILABLE waits for: the catalogue's channel to the Geocube reconnected
    # (a state change it notifies, not a condition to poll for).
    assert catalogue.geocube is not None
    await asyncio.wait_for(catalogue.geocube._channel.channel_ready(), TIMEOUT)
    answer = await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=_area("GcDown")), timeout=TIMEOUT)
    assert answer.scene_count == len(geocube.records) > 0


async def test_a_wrong_token_is_not_a_client_error(pg_dsn: str, geocube: FakeGeocube, archive) -> None:  # type: ignore[no-untyped-def]
    settings = CatalogueSettings(
        database_dsn=pg_dsn,
        address="127.0.0.1:0",
        archive_path=str(archive[0]),
        geocube_server=geocube.address,
        geocube_insecure=True,
        geocube_token="wrong",
    )
    app = await asyncio.wait_for(catalogue_app.start(settings), TIMEOUT)
    try:
        async with grpc.aio.insecure_channel(app.target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await catalogue_pb2_grpc.CatalogueStub(channel).IngestArea(
                    catalogue_pb2.IngestAreaRequest(area=_area("GcAuth")), timeout=TIMEOUT
                )
        # The Geocube refused us, not the caller's payload: a dependency failure, with its reason.
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "UNAUTHENTICATED" in caught.value.details()
    finally:
        await asyncio.wait_for(app.stop(grace=0.5), TIMEOUT)


async def test_the_gateway_answers_400_naming_the_refused_layer(
    catalogue: catalogue_app.CatalogueApp, geocube: FakeGeocube
) -> None:
    payload = json.loads((FIXTURES / "DenmarkDemoS2.json").read_text())
    payload["layers"]["B05"] = {"variable": "B05", "instance": "unknown"}
    gateway = await asyncio.wait_for(
        serve(GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target)), TIMEOUT
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as http:
            answer = await http.post(
                "/catalog/aoi", files={"area": ("area.json", json.dumps(payload).encode())}
            )
            await geocube.stop()
            down = await http.post(
                "/catalog/aoi", files={"area": ("area.json", json.dumps(payload).encode())}
            )
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)
    assert answer.status_code == 400, answer.text
    assert answer.text == "layers.B05: unknown instance unknown for variable B05 in the Geocube"
    assert down.status_code == 503, down.text
    assert "127.0.0.1" not in down.text  # the channel's own error text (addresses) is only logged


async def test_an_uploaded_scene_without_footprint_is_refused(
    stub: catalogue_pb2_grpc.CatalogueStub, geocube: FakeGeocube
) -> None:
    area = _area("GcNoWkt")
    found = await stub.SearchScenes(catalogue_pb2.SearchScenesRequest(area=area), timeout=TIMEOUT)
    tiled = await stub.ListTiles(
        catalogue_pb2.ListTilesRequest(area=area, scenes=found.scenes), timeout=TIMEOUT
    )
    scenes = list(tiled.scenes)
    scenes[0].wkt = ""  # a Geocube record needs an AOI
    request = catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=scenes))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IngestArea(request, timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        caught.value.details()
        == f"scenes: scene[{scenes[0].source_id}] has no footprint: its record needs one"
    )
    assert not geocube.records
