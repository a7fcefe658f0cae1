"""Sentinel-1 through the catalogue: scenes split into bursts from the real annotation fixtures, then
ingested with the burst chain as previous/reference links in the workflow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from protos.ingester.v1 import catalogue_pb2, types_pb2
from libs.domain import models
from libs.domain import proto_convert as pc

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "s1"
OLD = "S1A_IW_SLC__1SDV_20250406T022008_20250406T022035_058630_07421F_93A7"
NEW = "S1A_IW_SLC__1SDV_20250418T022008_20250418T022035_058805_074946_C7D4"
WORLD = "POLYGON((-140 40, -110 40, -110 60, -140 60, -140 40))"


def _scene(source_id: str) -> types_pb2.CatalogScene:
    date = dt.datetime.strptime(source_id[17:32], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return pc.catalog_scene_to_proto(models.CatalogScene(
        source_id=source_id, aoi="S1Demo", data=models.SceneAttrs(date=date, graph_name="S1Preprocessing"),
        tags={"orbitDirection": "ASCENDING", "relativeOrbit": "108"},
    ))


def _area() -> types_pb2.Area:
    return types_pb2.Area(
        name="S1Demo", geometry_wkt=WORLD, scene_type=types_pb2.SceneType(constellation="sentinel1"),
        scene_graph_name="S1Preprocessing", tile_graph_name="S1BackscatterCoherence",
        annotations_urls=[f"file://{FIXTURES}/{{SCENE}}.SAFE"],
    )


async def test_bursts_listed_then_chained_in_the_workflow(stubs) -> None:  # type: ignore[no-untyped-def]
    listed = await stubs.catalogue.ListTiles(
        catalogue_pb2.ListTilesRequest(area=_area(), scenes=[_scene(OLD), _scene(NEW)]), timeout=60
    )
    assert [len(s.tiles) for s in listed.scenes] == [27, 27]
    new_tiles = {t.source_id: t for t in listed.scenes[1].tiles}
    assert all(t.previous.scene_id == OLD and t.reference.scene_id == OLD for t in new_tiles.values())

    answer = await stubs.catalogue.IngestArea(
        catalogue_pb2.IngestAreaRequest(area=_area(), tiles=catalogue_pb2.SceneList(scenes=listed.scenes)), timeout=60
    )
    assert (answer.scene_count, answer.tile_count) == (2, 54)
    scenes = (await stubs.catalogue.ListScenes(catalogue_pb2.ListScenesRequest(aoi="S1Demo"), timeout=10)).scenes
    old_tiles = {t.source_id: t.id for t in (await stubs.catalogue.ListSceneTiles(
        catalogue_pb2.ListSceneTilesRequest(scene_id=scenes[0].id), timeout=10)).tiles}
    for tile in (await stubs.catalogue.ListSceneTiles(
            catalogue_pb2.ListSceneTilesRequest(scene_id=scenes[1].id), timeout=10)).tiles:
        expected = old_tiles[new_tiles[tile.source_id].previous.source_id]
        assert (tile.previous_id, tile.reference_id) == (expected, expected)

    # Listing the same dates again now chains onto what the AOI holds (its roots and leaves).
    again = await stubs.catalogue.ListTiles(
        catalogue_pb2.ListTilesRequest(area=_area(), scenes=[_scene(NEW)]), timeout=60
    )
    assert len(again.scenes[0].tiles) == 27
    assert all(t.previous.scene_id == OLD for t in again.scenes[0].tiles)


async def test_catalogue_annotation_urls_setting_reads_zips_over_http(pg_dsn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The catalogue's own patterns (GEOCUBE_CATALOGUE_ANNOTATIONS_URLS, the reference's --annotations-urls)
    serve payloads that name none; zips come over HTTP with Range requests and the bearer token of the
    settings."""
    import zipfile

    import grpc

    from protos.ingester.v1 import catalogue_pb2_grpc
    from services.catalogue import app
    from services.catalogue.settings import CatalogueSettings
    from tests.support.httpserver import LocalHTTPServer, Request, Response, serve_bytes

    zips = {}
    for scene in (OLD, NEW):
        path = tmp_path / f"{scene}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for xml in sorted((FIXTURES / f"{scene}.SAFE").glob("annotation/*.xml")):
                archive.write(xml, f"{scene}.SAFE/annotation/{xml.name}")
        zips[f"/s1/{scene}.zip"] = path.read_bytes()

    def handler(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer t0ken":
            return Response(401)
        data = zips.get(request.path)
        return serve_bytes(request, data) if data else Response(404)

    area = _area()
    del area.annotations_urls[:]
    with LocalHTTPServer(handler) as server:
        running = await app.start(CatalogueSettings(
            database_dsn=pg_dsn, address="127.0.0.1:0", annotations_bearer_token="t0ken",
            annotations_urls=(server.url + "/s1/{SCENE}.zip",),
        ))  # fmt: skip
        try:
            async with grpc.aio.insecure_channel(running.target) as channel:
                listed = await catalogue_pb2_grpc.CatalogueStub(channel).ListTiles(
                    catalogue_pb2.ListTilesRequest(area=area, scenes=[_scene(OLD), _scene(NEW)]), timeout=60
                )
        finally:
            await running.stop(grace=0.5)
    assert [len(s.tiles) for s in listed.scenes] == [27, 27]
    assert {r.path for r in server.requests} == set(zips)
