"""One validation path for a payload (services/catalogue/payload.py), whatever the entry point.

The same bad payload sent as the reference's multipart JSON through the real gateway and as a proto
straight to the real catalogue gets the same status, field and reason, and nothing is stored. And each
check runs once per request: the calls are counted with a profiler hook (sys.setprofile) on the
threads that serve the requests, no code of ours replaced.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import pathlib
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import httpx
import pytest
from support.gatewaystack import GatewayStack, running_stack

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from services.catalogue import app as catalogue_app
from services.catalogue import payload
from services.catalogue.settings import CatalogueSettings
from libs.demo import build_demo_archive
from libs.domain import products, wkt

TIMEOUT = 30.0
# A triangle over Denmark, as GeoJSON (the gateway's input) and as the WKT the gateway makes of it.
RING = [[9.0, 54.0], [10.0, 54.0], [10.0, 55.0], [9.0, 54.0]]
WKT = "POLYGON ((9 54, 10 54, 10 55, 9 54))"
START, END = "2022-01-01T00:00:00Z", "2022-01-10T00:00:00Z"


def _json(**fields: Any) -> bytes:
    doc = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "name": "Paths",
        "start_time": START,
        "end_time": END,
        "scene_type": {"constellation": "sentinel2"},
        "scene_graph_name": "CopyProductToStorage",
        "tile_graph_name": "Pass",
        **fields,
    }
    return json.dumps(doc).encode()


def _proto(**fields: Any) -> types_pb2.Area:
    """The same payload as a gRPC client writes it (not through the gateway's decoder)."""
    area = types_pb2.Area(
        name="Paths",
        geometry_wkt=WKT,
        scene_type=types_pb2.SceneType(constellation="sentinel2"),
        scene_graph_name="CopyProductToStorage",
        tile_graph_name="Pass",
    )
    area.start_time.FromJsonString(START)
    area.end_time.FromJsonString(END)
    for key, value in fields.items():
        if key == "layers":
            for name, layer in value.items():
                area.layers[name].CopyFrom(types_pb2.Layer(**layer))
        elif key in ("start_time", "end_time"):
            getattr(area, key).FromJsonString(value)
        elif key == "constellation":
            area.scene_type.constellation = value
        else:
            setattr(area, key, value)
    return area


# (endpoint, JSON fields, proto fields, expected "field: reason" prefix)
CASES = [
    ("scenes", {"scene_type": {"constellation": "landsat"}}, {"constellation": "landsat"},
     "scene_type.constellation: unrecognized constellation: landsat"),
    ("scenes", {"type": "FeatureCollection", "features": []}, {"geometry_wkt": "MULTIPOLYGON EMPTY"},
     "geometry: the geometry is empty"),
    ("scenes", {"end_time": "2021-12-31T00:00:00Z"}, {"end_time": "2021-12-31T00:00:00Z"},
     "end_time: end_time is before start_time"),
    ("scenes", {"limit": -1}, {"limit": -1}, "limit: must be 0 or more"),
    ("aoi", {"name": "bad name!"}, {"name": "bad name!"},
     "name: wrong format for AOIID (must be chars, numbers and -:_ found 'bad name!')"),
    ("aoi", {"scene_type": {"constellation": "S9"}}, {"constellation": "S9"},
     "scene_type.constellation: unrecognized constellation: S9"),
    ("aoi", {"page": -2}, {"page": -2}, "page: must be 0 or more"),
    ("aoi", {"tile_graph_name": ""}, {"tile_graph_name": ""}, "tile_graph_name: required for ingestion"),
    ("aoi", {"retry_count": -1}, {"retry_count": -1}, "retry_count: must be 0 or more"),
    ("aoi", {"layers": {"B01": {"variable": "B01"}}}, {"layers": {"B01": {"variable": "B01"}}},
     "layers.B01: needs instance_id, or variable and instance"),
    ("aoi", {"scene_graph_name": "../../etc/passwd"}, {"scene_graph_name": "../../etc/passwd"},
     "scene_graph_name: graph name '../../etc/passwd' must not contain"),
]  # fmt: skip


@pytest.fixture
async def stack(pg_dsn: str, tmp_path: pathlib.Path) -> AsyncIterator[tuple[GatewayStack, httpx.AsyncClient]]:
    async with (
        running_stack(pg_dsn, tmp_path) as running,
        httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=TIMEOUT) as http,
    ):
        yield running, http


async def test_http_and_grpc_clients_get_the_same_refusal(stack) -> None:
    running, http = stack
    async with grpc.aio.insecure_channel(running.catalogue.target) as channel:
        catalogue = catalogue_pb2_grpc.CatalogueStub(channel)
        for endpoint, doc, fields, expected in CASES:
            answer = await http.post(f"/catalog/{endpoint}", files={"area": ("a.json", _json(**doc))})
            area = _proto(**fields)
            call = (
                catalogue.SearchScenes(catalogue_pb2.SearchScenesRequest(area=area), timeout=TIMEOUT)
                if endpoint == "scenes"
                else catalogue.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=TIMEOUT)
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (expected, caught.value.details())
            assert (answer.status_code, answer.text) == (400, caught.value.details()), expected
            assert answer.text.startswith(expected), (expected, answer.text)
        listed = await catalogue.ListAois(catalogue_pb2.ListAoisRequest(pattern="*"), timeout=TIMEOUT)
    assert list(listed.aois) == []  # nothing written on refusal


# ---------------------------------------------------------------------------------------------------
# Each check once per request

_CHECKS: dict[Any, str] = {
    function.__code__: name
    for name, function in vars(payload).items()
    if name.startswith("check_") and callable(function)
}
_PARSES = {wkt.from_wkt.__code__: "from_wkt", products.parse_constellation.__code__: "parse_constellation"}


class _Calls:
    """Counts calls of the payload checks, and the parses of this payload's own geometry and
    constellation (scene footprints and product ids are parsed too, and are not counted)."""

    def __init__(self, geometry: str, constellation: str):
        self.counts: collections.Counter[str] = collections.Counter()
        self._watched = {geometry, constellation}
        self._lock = threading.Lock()

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        name = _CHECKS.get(frame.f_code)
        if name is None:
            name = _PARSES.get(frame.f_code)
            if name is None or frame.f_locals.get(frame.f_code.co_varnames[0]) not in self._watched:
                return
        with self._lock:
            self.counts[name] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = dict(self.counts), collections.Counter()
        return counts


async def _requests(dsn: str, archive: pathlib.Path, calls: _Calls) -> dict[str, dict[str, int]]:
    """Runs in its own thread and event loop: the loop's thread and its executor's threads (where
    searches and tiling run) are profiled once the catalogue has started."""
    running = await catalogue_app.start(
        CatalogueSettings(database_dsn=dsn, address="127.0.0.1:0", archive_path=str(archive))
    )
    loop = asyncio.get_running_loop()
    executor = concurrent.futures.ThreadPoolExecutor(4, initializer=sys.setprofile, initargs=(calls.profile,))
    loop.set_default_executor(executor)
    seen: dict[str, dict[str, int]] = {}
    try:
        async with grpc.aio.insecure_channel(running.target) as channel:
            stub = catalogue_pb2_grpc.CatalogueStub(channel)
            area = _proto(name="Once", end_time="2022-01-13T00:00:00Z")
            sys.setprofile(calls.profile)
            try:
                steps: list[tuple[str, Callable[[], Any]]] = [
                    ("SearchScenes", lambda: stub.SearchScenes(catalogue_pb2.SearchScenesRequest(area=area))),
                    ("IngestArea", lambda: stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area))),
                ]
                calls.take()
                found = None
                for name, step in steps:
                    answer = await asyncio.wait_for(step(), TIMEOUT)
                    seen[name] = calls.take()
                    found = answer if name == "SearchScenes" else found
                assert found is not None and len(found.scenes) == 2
                request = catalogue_pb2.ListTilesRequest(area=area, scenes=found.scenes)
                tiled = await asyncio.wait_for(stub.ListTiles(request), TIMEOUT)
                seen["ListTiles"] = calls.take()
                assert [len(s.tiles) for s in tiled.scenes] == [1, 1]
            finally:
                sys.setprofile(None)
    finally:
        await running.stop(grace=0.5)
        executor.shutdown(wait=True)
    return seen


def test_each_check_runs_once_per_request(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "archive"
    build_demo_archive(archive, count=2, band_size=4)  # two Sentinel-2 products over Denmark
    calls = _Calls(WKT, "sentinel2")
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["seen"] = asyncio.run(_requests(pg_dsn, archive, calls))
        except BaseException as exc:  # noqa: BLE001 — whatever it is, re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="payload-once")
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the requests did not finish in 120 s"
    if "error" in result:
        raise result["error"]
    search = {"check_constellation": 1, "check_geometry": 1, "check_dates": 1, "check_paging": 1}
    parses = {"from_wkt": 1, "parse_constellation": 1}
    assert result["seen"] == {
        "SearchScenes": {**search, **parses},
        "IngestArea": {
            **search,
            **parses,
            "check_name": 1,
            "check_graphs_given": 1,
            "check_retry_count": 1,
            "check_layers": 1,
            "check_placement": 1,
        },
        # The AOI is parsed once for the tiling; the constellation is read, tiles follow product ids.
        "ListTiles": {"check_geometry": 1, **parses},
    }
