"""The workflow control endpoints through the gateway in front of the real catalogue (its Workflow
service, real PostgreSQL): HTTP over a socket, real gRPC, no workers (queued tasks stay queued)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import serve
from gateway.settings import GatewaySettings
from services.catalogue.app import CatalogueApp

TIMEOUT = 30.0
AOI = "ControlDemo"
S1 = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNG_20220104T123645"
S2 = "S2A_MSIL1C_20220114T103421_N0301_R108_T32UNG_20220114T123645"


@pytest.fixture
async def http(catalogue: CatalogueApp) -> AsyncIterator[httpx.AsyncClient]:
    gateway = await asyncio.wait_for(
        serve(GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target)), TIMEOUT
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as client:
            assert (await client.post(f"/aoi/{AOI}")).status_code == 204  # scenes join an existing AOI
            yield client
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)


def scene_to_ingest(source_id: str, date: str, previous: str | None = None, **extra: Any) -> bytes:
    """A SceneToIngest (spec §1.10) with one tile, chained onto the same tile of `previous`."""
    link = {}
    if previous:
        link = {
            "previous_tile_id": "T32UNG",
            "previous_scene_id": previous,
            "reference_tile_id": "T32UNG",
            "reference_scene_id": previous,
        }
    doc = {
        "id": 0,
        "source_id": source_id,
        "aoi": AOI,
        "data": {
            "date": date,
            "tiles": {"T32UNG": {"swath_id": "", "tile_nr": 0}},
            "graph_name": "CopyProductToStorage",
            "graph_config": {"k": "v"},
            "record_id": "",
            "metadata": {"uuid": "u-1"},
            "is_retriable": True,
            "storage_uri": "",
        },
        "tiles": {"T32UNG": {**link, "data": {"swath_id": "", "tile_nr": 0, "graph_name": "Pass"}}},
        "retry_count": 2,
        **extra,
    }
    return json.dumps(doc).encode()


async def _ingest(http: httpx.AsyncClient, body: bytes) -> int:
    answer = await http.post(f"/aoi/{AOI}/scene", content=body)
    assert answer.status_code == 200, answer.text
    match = re.fullmatch(r'\{"id":(\d+)\}', answer.text)
    assert match, answer.text
    return int(match.group(1))


async def _get(http: httpx.AsyncClient, path: str) -> Any:
    answer = await http.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.text.endswith("\n")
    return json.loads(answer.text)


async def _status(http: httpx.AsyncClient, kind: str, item: int) -> str:
    status: str = (await _get(http, f"/{kind}/{item}"))["status"]
    return status


async def _tile_of(http: httpx.AsyncClient, scene: int) -> int:
    [tile] = await _get(http, f"/scene/{scene}/tiles")
    return int(tile["id"])


async def test_ingest_scene_then_read_it(http: httpx.AsyncClient) -> None:
    # An AOI that does not exist: 404 naming it, and it is not created (the reference: an error).
    unknown = await http.post("/aoi/Typo/scene", content=scene_to_ingest(S1, "2022-01-04T10:34:21.5Z"))
    assert unknown.status_code == 404 and "aoi Typo not found" in unknown.text
    assert await _get(http, "/aoi/Typo*") == []
    scene_id = await _ingest(http, scene_to_ingest(S1, "2022-01-04T10:34:21.5Z"))
    scene = await _get(http, f"/scene/{scene_id}")
    assert scene == {
        "id": scene_id,
        "source_id": S1,
        "aoi": AOI,
        "data": {
            "date": "2022-01-04T10:34:21.5Z",
            "tiles": {"T32UNG": {"swath_id": "", "tile_nr": 0}},
            "graph_name": "CopyProductToStorage",
            "graph_config": {"k": "v"},
            "record_id": "",
            "metadata": {"uuid": "u-1"},
            "is_retriable": True,
            "storage_uri": "",
        },
        "status": "PENDING",
        "message": "",
        "RetryCountDown": 2,
    }
    # The same scene again: 409 (the reference answers 200 {"id":0}).
    again = await http.post(f"/aoi/{AOI}/scene", content=scene_to_ingest(S1, "2022-01-04T10:34:21.5Z"))
    assert (again.status_code, again.text) == (409, "")
    strict = await http.post(f"/aoi/{AOI}/scene", content=scene_to_ingest(S2, "2022-01-14T00:00:00Z", oops=1))
    assert (strict.status_code, strict.text) == (400, "")
    # A dependency that is not in the AOI: the catalogue's text, nothing written.
    orphan = await http.post(f"/aoi/{AOI}/scene", content=scene_to_ingest(S2, "2022-01-14T00:00:00Z", "nope"))
    assert orphan.status_code == 409 and "nope" in orphan.text
    assert [s["source_id"] for s in await _get(http, f"/aoi/{AOI}/scenes")] == [S1]
    # The chained scene: its tile's PreviousID and ReferenceID are the first scene's tile.
    second = await _ingest(http, scene_to_ingest(S2, "2022-01-14T00:00:00Z", S1))
    first_tile = await _tile_of(http, scene_id)
    [tile] = await _get(http, f"/scene/{second}/tiles")
    assert (tile["PreviousID"], tile["ReferenceID"], tile["status"]) == (first_tile, first_tile, "NEW")
    # Graph reads: one root (the first tile), one leaf (the second); the scene's aoi is the requested one.
    roots = await _get(http, f"/aoi/{AOI}/roottiles")
    assert [(t["id"], t["scene"]["id"], t["scene"]["aoi"]) for t in roots] == [(first_tile, scene_id, AOI)]
    assert list(roots[0]) == ["id", "source_id", "scene", "data"]
    leaves = await _get(http, f"/aoi/{AOI}/leaftiles")
    assert [t["id"] for t in leaves] == [tile["id"]]
    new_tiles = await _get(http, f"/aoi/{AOI}/tiles/NEW")
    assert [t["id"] for t in new_tiles] == [first_tile, tile["id"]]
    assert await _get(http, f"/aoi/{AOI}/tiles/new") == []


async def test_status_round_trip(http: httpx.AsyncClient) -> None:
    scene_id = await _ingest(http, scene_to_ingest(S1, "2022-01-04T10:34:21Z"))
    tile_id = await _tile_of(http, scene_id)
    # Already PENDING: refused.
    assert (await http.put(f"/scene/{scene_id}/retry")).status_code == 403
    # The download is done: the root tile is released.
    done = await http.put(f"/scene/{scene_id}/force/done")
    assert (done.status_code, done.text) == (200, "")
    assert await _status(http, "scene", scene_id) == "DONE"
    assert await _status(http, "tile", tile_id) == "PENDING"
    # Failing the scene now that its tile started: the workflow forbids it, with its reason.
    refused = await http.put(f"/scene/{scene_id}/force/FAILED")
    assert refused.status_code == 409 and f"tile {tile_id}" in refused.text
    assert (await http.put(f"/scene/{scene_id}/fail")).status_code == 403
    # Tile: RETRY (forced), then a plain retry puts it back to PENDING.
    assert (await http.put(f"/tile/{tile_id}/force/Retry")).status_code == 200
    assert await _status(http, "tile", tile_id) == "RETRY"
    assert (await http.put(f"/tile/{tile_id}/retry")).status_code == 200
    tile = await _get(http, f"/tile/{tile_id}")
    assert (tile["status"], tile["RetryCountDown"]) == ("PENDING", 1)
    assert (await http.put(f"/tile/{tile_id}/retry")).status_code == 403
    # Fail it, then it cannot be retried without force.
    assert (await http.put(f"/tile/{tile_id}/fail")).status_code == 200
    assert await _status(http, "tile", tile_id) == "FAILED"
    assert (await http.put(f"/tile/{tile_id}/retry")).status_code == 403
    # Unknown ids and names.
    for path in ("/scene/987654/retry", "/tile/987654/fail", "/scene/987654/force/DONE"):
        answer = await http.put(path)
        assert (answer.status_code, answer.text) == (404, ""), path
    bogus = await http.put(f"/tile/{tile_id}/force/finished")
    assert (bogus.status_code, bogus.text) == (400, "finished does not belong to Status values")


async def test_retry_aoi(http: httpx.AsyncClient) -> None:
    scene_id = await _ingest(http, scene_to_ingest(S1, "2022-01-04T10:34:21Z"))
    tile_id = await _tile_of(http, scene_id)
    assert (await http.put(f"/aoi/{AOI}/retry")).status_code == 204
    assert (await http.put(f"/scene/{scene_id}/force/DONE")).status_code == 200
    assert (await http.put(f"/tile/{tile_id}/force/RETRY")).status_code == 200
    answer = await http.put(f"/aoi/{AOI}/retry/not-force")
    assert (answer.status_code, answer.text) == (200, '{"Scenes":0,"Tiles":1}\n')
    assert await _status(http, "tile", tile_id) == "PENDING"
    assert (await http.put("/aoi/Control*/retry")).status_code == 204
    # A tile in RETRY whose previous tile is not DONE cannot be retried: 409 naming it, the rest retried.
    second = await _ingest(http, scene_to_ingest(S2, "2022-01-14T00:00:00Z", S1))
    second_tile = await _tile_of(http, second)
    assert (await http.put(f"/scene/{second}/force/DONE")).status_code == 200
    assert (await http.put(f"/tile/{second_tile}/force/RETRY")).status_code == 200
    refused = await http.put(f"/aoi/{AOI}/retry")
    assert (refused.status_code, refused.text) == (
        409,
        f"tile {second_tile}: cannot retry tile when previous is PENDING",
    )
    assert await _status(http, "tile", second_tile) == "RETRY"


async def test_data_updates(http: httpx.AsyncClient) -> None:
    scene_id = await _ingest(http, scene_to_ingest(S1, "2022-01-04T10:34:21Z"))
    tile_id = await _tile_of(http, scene_id)
    data = {"date": "2022-01-05T00:00:00Z", "graph_name": "Other", "storage_uri": "file:///x"}
    assert (await http.put(f"/scene/{scene_id}/data", json=data)).status_code == 204
    stored = (await _get(http, f"/scene/{scene_id}"))["data"]
    assert (stored["date"], stored["graph_name"], stored["storage_uri"]) == tuple(data.values())
    assert stored["graph_config"] is None and "tiles" not in stored
    tile_data = {"swath_id": "IW1", "tile_nr": 4, "graph_name": "g", "is_retriable": True}
    assert (await http.put(f"/tile/{tile_id}/data", json=tile_data)).status_code == 204
    assert (await _get(http, f"/tile/{tile_id}"))["data"] == tile_data
    assert (await http.put(f"/tile/{tile_id}/data", json={"swath": "IW1"})).status_code == 400
    missing = await http.put("/scene/987654/data", json=data)
    assert (missing.status_code, missing.text) == (404, "")


async def test_create_delete_and_dot(http: httpx.AsyncClient) -> None:
    assert (await http.post("/aoi/Empty")).status_code == 204
    again = await http.post("/aoi/Empty")
    assert (again.status_code, again.text) == (409, "")
    assert await _get(http, "/aoi/Emp*") == [{"ID": "Empty", "status": "NEW"}]
    first = await _ingest(http, scene_to_ingest(S1, "2022-01-04T10:34:21Z"))
    second = await _ingest(http, scene_to_ingest(S2, "2022-01-14T00:00:00Z", S1))
    first_tile, second_tile = await _tile_of(http, first), await _tile_of(http, second)
    dot = await http.get(f"/aoi/{AOI}/dot")
    assert dot.status_code == 200
    lines = dot.text.splitlines()
    assert lines[0] == f'digraph "{AOI}" {{' and lines[-1] == "}" and dot.text.endswith("}\n")
    assert f's{first} [label="{S1}\\n(id={first})" shape=box color=blue];' in lines
    assert f't{first_tile} [label="T32UNG\\n(id={first_tile})" color=gray];' in lines
    assert f"s{first} -> t{first_tile} [color=gray style=dotted];" in lines
    assert any(line.startswith(f"t{first_tile} -> t{second_tile}") for line in lines)
    # Deleting: 204, then the report shows zeros (and again 204 for an AOI that no longer exists).
    assert (await http.delete(f"/aoi/{AOI}")).status_code == 204
    assert (await http.delete(f"/aoi/{AOI}")).status_code == 204
    report = await http.get(f"/aoi/{AOI}")
    assert report.status_code == 200
    assert report.text.startswith(
        "Scenes:\n  new:     0\n  pending: 0\n  done:    0\n  retry:   0\n  failed:  0\n  Total:   0\n"
        "Tiles:\n  new:     0\n  pending: 0\n  done:    0\n  retry:   0\n  failed:  0\n  Total:   0\n"
        "\nRoot tiles : 0\n"
    )
    assert (await http.get(f"/scene/{first}")).status_code == 404
    assert await _get(http, f"/aoi/{AOI}/roottiles") == []
