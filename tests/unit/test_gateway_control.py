"""The workflow control and graph endpoints of the gateway (spec §4.3) over a real socket.

The catalogue is a recording Workflow servicer on a real grpc.aio server: what matters here is which
call the gateway makes for each request and how it renders the answer or the gRPC status. Requests
that must fail before any call are checked to make none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio

from gateway.app import RunningGateway, serve
from gateway.settings import GatewaySettings
from protos.ingester.v1 import types_pb2, workflow_pb2, workflow_pb2_grpc

TOKEN = "s3cret"
TIMEOUT = 10.0
# Ids the fake answers specially; any other id is a change that was made.
REFUSED, UNKNOWN, FORBIDDEN = 2, 404, 409
FORBIDDEN_TEXT = "unconsistency: tile 7 status PENDING"

SCENE_DATA = types_pb2.SceneAttrs(graph_name="S2", is_retriable=True)
TILE = types_pb2.Tile(
    id=7,
    source_id="T32UNG",
    scene=types_pb2.Scene(id=3, source_id="S2A_X", aoi="stored-aoi", data=SCENE_DATA),
    data=types_pb2.TileAttrs(graph_name="g<1>", tile_nr=2),
    status=types_pb2.STATUS_DONE,
    previous_id=6,
)


@dataclasses.dataclass
class Recorded:
    method: str
    request: Any


class FakeWorkflow(workflow_pb2_grpc.WorkflowServicer):
    """Answers canned data and records every call."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.retry = workflow_pb2.RetryAoiResponse()

    async def _update(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded(method, request))
        if request.id == UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{method}: {request.id} not found")
        if request.id == FORBIDDEN:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, FORBIDDEN_TEXT)
        return workflow_pb2.UpdateStatusResponse(done=request.id != REFUSED)

    async def UpdateSceneStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._update("UpdateSceneStatus", request, context)

    async def UpdateTileStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._update("UpdateTileStatus", request, context)

    async def UpdateSceneData(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._update("UpdateSceneData", request, context)
        return workflow_pb2.UpdateDataResponse()

    async def UpdateTileData(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._update("UpdateTileData", request, context)
        return workflow_pb2.UpdateDataResponse()

    async def RetryAoi(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("RetryAoi", request))
        return self.retry

    async def CreateAoi(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("CreateAoi", request))
        if request.aoi == "exists":
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "aoi exists already exists")
        return workflow_pb2.CreateAoiResponse()

    async def DeleteAoi(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("DeleteAoi", request))
        return workflow_pb2.DeleteAoiResponse(existed=False)

    async def IngestScene(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("IngestScene", request))
        if request.scene.source_id == "exists":
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "scene exists already exists")
        if request.scene.source_id == "":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "scenes: scene[] has no tiles")
        if request.scene.source_id == "orphan":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "tile t depends on tile p")
        return workflow_pb2.IngestSceneResponse(id=42)

    async def ListAoiTiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("ListAoiTiles", request))
        listed = types_pb2.Tile()
        listed.CopyFrom(TILE)
        listed.scene.Clear()
        listed.scene.id = 3
        return workflow_pb2.ListAoiTilesResponse(tiles=[listed])

    async def ListRootTiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("ListRootTiles", request))
        return workflow_pb2.ListAoiTilesResponse(tiles=[TILE])

    async def ListLeafTiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("ListLeafTiles", request))
        return workflow_pb2.ListAoiTilesResponse()

    async def GetAoiDot(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(Recorded("GetAoiDot", request))
        return workflow_pb2.GetAoiDotResponse(dot=f"digraph {request.aoi} {{\n}}\n")


@pytest_asyncio.fixture(scope="module")
async def workflow() -> AsyncIterator[tuple[FakeWorkflow, str]]:
    servicer = FakeWorkflow()
    server = grpc.aio.server()
    workflow_pb2_grpc.add_WorkflowServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await asyncio.wait_for(server.start(), TIMEOUT)
    yield servicer, f"127.0.0.1:{port}"
    await asyncio.wait_for(server.stop(None), TIMEOUT)


@pytest_asyncio.fixture(scope="module")
async def gateway(workflow: tuple[FakeWorkflow, str]) -> AsyncIterator[RunningGateway]:
    settings = GatewaySettings(
        address="127.0.0.1:0",
        catalogue_address=workflow[1],
        bearer_tokens=(TOKEN,),
        max_upload_bytes=4096,
        rpc_timeout_seconds=5,
    )
    running = await asyncio.wait_for(serve(settings), TIMEOUT)
    yield running
    await asyncio.wait_for(running.stop(), TIMEOUT)


@pytest.fixture
def fake(workflow: tuple[FakeWorkflow, str]) -> FakeWorkflow:
    workflow[0].calls.clear()
    workflow[0].retry = workflow_pb2.RetryAoiResponse()
    return workflow[0]


@pytest_asyncio.fixture
async def client(gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=TIMEOUT) as http:
        yield http


def _answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.text


# --------------------------------------------------------------------------------------------------
# Routing and authentication


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", "/aoi/x"),
        ("GET", "/aoi/x/retry"),
        ("POST", "/aoi/x/retry/force"),
        ("GET", "/aoi/x/scene"),
        ("GET", "/scene/1/retry"),
        ("POST", "/scene/1/fail"),
        ("GET", "/tile/1/force/DONE"),
        ("GET", "/tile/1/data"),
        ("POST", "/aoi/x/dot"),
        ("PUT", "/aoi/x/roottiles"),
    ],
)
async def test_wrong_method_is_405_empty(
    client: httpx.AsyncClient, fake: FakeWorkflow, method: str, path: str
) -> None:
    assert _answer(await client.request(method, path)) == (405, "")
    assert not fake.calls


@pytest.mark.parametrize(
    "path", ["/aoi/x/tiles", "/aoi/x/retry/force/more", "/scene/1/force", "/aoi/x/rootleaftiles"]
)
async def test_unknown_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    assert _answer(await client.put(path)) == (404, "404 page not found\n")


@pytest.mark.parametrize(
    "method, path",
    [("POST", "/aoi/x"), ("DELETE", "/aoi/x"), ("PUT", "/scene/1/retry"), ("GET", "/aoi/x/dot")],
)
async def test_control_needs_the_token(
    gateway: RunningGateway, fake: FakeWorkflow, method: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as http:
        answer = await http.request(method, path)
    assert _answer(answer) == (403, '"token not found"\n')
    assert not fake.calls


# --------------------------------------------------------------------------------------------------
# Status changes


@pytest.mark.parametrize("kind, method", [("scene", "UpdateSceneStatus"), ("tile", "UpdateTileStatus")])
async def test_retry_and_fail(client: httpx.AsyncClient, fake: FakeWorkflow, kind: str, method: str) -> None:
    assert _answer(await client.put(f"/{kind}/1/retry")) == (200, "")
    assert _answer(await client.put(f"/{kind}/{REFUSED}/retry")) == (403, "")
    assert _answer(await client.put(f"/{kind}/+1/fail")) == (200, "")
    assert _answer(await client.put(f"/{kind}/{UNKNOWN}/fail")) == (404, "")
    assert _answer(await client.put(f"/{kind}/{FORBIDDEN}/fail")) == (409, FORBIDDEN_TEXT)
    pending, failed = types_pb2.STATUS_PENDING, types_pb2.STATUS_FAILED
    assert [(c.method, c.request) for c in fake.calls] == [
        (method, workflow_pb2.UpdateStatusRequest(id=1, status=pending, force=False)),
        (method, workflow_pb2.UpdateStatusRequest(id=REFUSED, status=pending, force=False)),
        (method, workflow_pb2.UpdateStatusRequest(id=1, status=failed, force=False)),
        (method, workflow_pb2.UpdateStatusRequest(id=UNKNOWN, status=failed, force=False)),
        (method, workflow_pb2.UpdateStatusRequest(id=FORBIDDEN, status=failed, force=False)),
    ]


@pytest.mark.parametrize("kind", ["scene", "tile"])
@pytest.mark.parametrize(
    "name, status",
    [
        ("DONE", types_pb2.STATUS_DONE),
        ("done", types_pb2.STATUS_DONE),
        ("Pending", types_pb2.STATUS_PENDING),
        ("nEw", types_pb2.STATUS_NEW),
        ("RETRY", types_pb2.STATUS_RETRY),
        ("failed", types_pb2.STATUS_FAILED),
    ],
)
async def test_force_any_case(
    client: httpx.AsyncClient, fake: FakeWorkflow, kind: str, name: str, status: types_pb2.Status
) -> None:
    assert _answer(await client.put(f"/{kind}/5/force/{name}")) == (200, "")
    assert [c.request for c in fake.calls] == [
        workflow_pb2.UpdateStatusRequest(id=5, status=status, force=True)
    ]


@pytest.mark.parametrize("kind", ["scene", "tile"])
async def test_force_answers(client: httpx.AsyncClient, fake: FakeWorkflow, kind: str) -> None:
    assert _answer(await client.put(f"/{kind}/{REFUSED}/force/DONE")) == (403, "")
    assert _answer(await client.put(f"/{kind}/{UNKNOWN}/force/DONE")) == (404, "")
    assert _answer(await client.put(f"/{kind}/{FORBIDDEN}/force/PENDING")) == (409, FORBIDDEN_TEXT)


@pytest.mark.parametrize("kind", ["scene", "tile"])
async def test_invalid_requests_make_no_call(
    client: httpx.AsyncClient, fake: FakeWorkflow, kind: str
) -> None:
    # The status name is checked before the id, as the reference.
    bogus = await client.put(f"/{kind}/abc/force/bogus")
    assert _answer(bogus) == (400, "bogus does not belong to Status values")
    assert _answer(await client.put(f"/{kind}/1/force/UNSPECIFIED")) == (
        400,
        "UNSPECIFIED does not belong to Status values",
    )
    assert _answer(await client.put(f"/{kind}/abc/force/done")) == (400, "")
    assert _answer(await client.put(f"/{kind}/1.5/retry")) == (400, "")
    assert _answer(await client.put(f"/{kind}/99999999999999999999/fail")) == (400, "")
    assert _answer(await client.put(f"/{kind}/x/data", content=b"{}")) == (400, "")
    assert not fake.calls


# --------------------------------------------------------------------------------------------------
# Data


async def test_scene_data(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    body = {"graph_name": "S2", "is_retriable": True, "date": "2022-01-04T10:34:31.024Z"}
    assert _answer(await client.put("/scene/3/data", json=body)) == (204, "")
    [call] = fake.calls
    assert call.method == "UpdateSceneData" and call.request.id == 3
    assert call.request.data.graph_name == "S2" and call.request.data.date.nanos == 24_000_000
    assert _answer(await client.put(f"/scene/{UNKNOWN}/data", json=body)) == (404, "")
    fake.calls.clear()
    for bad in (b'{"graph_name":"S2","unknown":1}', b'{"uuid":"u"}', b"{", b"", b'{"date":1}'):
        assert _answer(await client.put("/scene/3/data", content=bad)) == (400, "")
    too_large = await client.put("/scene/3/data", content=b" " * 5000 + b"{}")
    assert too_large.status_code == 413
    assert not fake.calls


async def test_tile_data(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    assert _answer(await client.put("/tile/7/data", content=b'{"swath_id":"IW1","tile_nr":4}')) == (204, "")
    assert fake.calls[0].request == workflow_pb2.UpdateTileDataRequest(
        id=7, data=types_pb2.TileAttrs(swath_id="IW1", tile_nr=4)
    )
    assert _answer(await client.put("/tile/7/data", content=b'{"swath":"IW1"}')) == (400, "")
    assert len(fake.calls) == 1


# --------------------------------------------------------------------------------------------------
# AOIs


async def test_create_and_delete_aoi(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    assert _answer(await client.post("/aoi/new-aoi")) == (204, "")
    assert _answer(await client.post("/aoi/exists")) == (409, "")
    assert _answer(await client.delete("/aoi/never-existed")) == (204, "")
    assert [(c.method, c.request) for c in fake.calls] == [
        ("CreateAoi", workflow_pb2.CreateAoiRequest(aoi="new-aoi")),
        ("CreateAoi", workflow_pb2.CreateAoiRequest(aoi="exists")),
        ("DeleteAoi", workflow_pb2.DeleteAoiRequest(aoi="never-existed")),
    ]


def _scene_body(source_id: str, **extra: Any) -> bytes:
    doc = {
        "id": 0,
        "source_id": source_id,
        "aoi": "a",
        "data": {"date": "2022-01-04T10:34:31Z", "tiles": {"t": {"swath_id": "", "tile_nr": 0}}},
        "tiles": {"t": {"data": {"graph_name": "g"}}},
        "retry_count": 2,
        **extra,
    }
    return json.dumps(doc).encode()


async def test_ingest_scene(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    answer = await client.post("/aoi/a/scene", content=_scene_body("S2A_X"))
    # Written with Fprintf by the reference: no newline.
    assert _answer(answer) == (200, '{"id":42}')
    [call] = fake.calls
    assert call.method == "IngestScene"
    assert (call.request.aoi, call.request.retry_count, call.request.scene.source_id) == ("a", 2, "S2A_X")
    assert [(t.source_id, t.scene_id, t.data.graph_name) for t in call.request.scene.tiles] == [
        ("t", "S2A_X", "g")
    ]


async def test_ingest_scene_answers(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    assert _answer(await client.post("/aoi/a/scene", content=_scene_body("exists"))) == (409, "")
    invalid = await client.post("/aoi/a/scene", content=_scene_body(""))
    assert _answer(invalid) == (400, "scenes: scene[] has no tiles")
    orphan = await client.post("/aoi/a/scene", content=_scene_body("orphan"))
    assert _answer(orphan) == (409, "tile t depends on tile p")
    assert len(fake.calls) == 3
    fake.calls.clear()
    for bad in (_scene_body("S", extra=1), b"", b"[1]", _scene_body("S", retry_count="2")):
        assert _answer(await client.post("/aoi/a/scene", content=bad)) == (400, "")
    assert not fake.calls


@pytest.mark.parametrize(
    "path, force",
    [
        ("/aoi/a*/retry", False),
        ("/aoi/a*/retry/force", True),
        ("/aoi/a*/retry/Force", False),
        ("/aoi/a*/retry/yes", False),
    ],
)
async def test_retry_aoi_force_flag(
    client: httpx.AsyncClient, fake: FakeWorkflow, path: str, force: bool
) -> None:
    assert _answer(await client.put(path)) == (204, "")
    assert [c.request for c in fake.calls] == [workflow_pb2.RetryAoiRequest(aoi="a*", force=force)]


async def test_retry_aoi_answers(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    fake.retry = workflow_pb2.RetryAoiResponse(scenes=2, tiles=5)
    assert _answer(await client.put("/aoi/a/retry")) == (200, '{"Scenes":2,"Tiles":5}\n')
    fake.retry = workflow_pb2.RetryAoiResponse(scenes=0, tiles=1)
    assert _answer(await client.put("/aoi/a/retry")) == (200, '{"Scenes":0,"Tiles":1}\n')
    fake.retry = workflow_pb2.RetryAoiResponse(
        scenes=1, errors=["cannot retry tile when previous is PENDING", "previous tile is FAILED"]
    )
    merged = await client.put("/aoi/a/retry/force")
    assert _answer(merged) == (409, "cannot retry tile when previous is PENDING\n previous tile is FAILED")


# --------------------------------------------------------------------------------------------------
# Graph reads


async def test_aoi_tiles(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    done = await client.get("/aoi/a*/tiles/DONE?page=2&limit=10")
    assert done.status_code == 200
    assert done.text == (
        '[{"id":7,"source_id":"T32UNG","scene":{"id":3,"source_id":"","aoi":"","data":'
        '{"date":"0001-01-01T00:00:00Z","graph_name":"","graph_config":null,"record_id":"","metadata":null,'
        '"is_retriable":false,"storage_uri":""}},'
        '"data":{"swath_id":"","tile_nr":2,"graph_name":"g\\u003c1\\u003e","is_retriable":false},'
        '"status":"DONE","message":"","PreviousID":6,"ReferenceID":null,"RetryCountDown":0}]\n'
    )
    assert done.headers["content-type"] == "text/plain; charset=utf-8"
    # Compared verbatim with the stored names, as the reference: anything but uppercase matches nothing.
    assert _answer(await client.get("/aoi/a/tiles/done")) == (200, "[]\n")
    assert _answer(await client.get("/aoi/a/tiles/UNSPECIFIED")) == (200, "[]\n")
    unpaged = await client.get("/aoi/a/tiles/NEW?page=x&limit=")
    assert unpaged.status_code == 200
    assert [c.request for c in fake.calls] == [
        workflow_pb2.ListAoiTilesRequest(aoi="a*", status=types_pb2.STATUS_DONE, page=2, limit=10),
        workflow_pb2.ListAoiTilesRequest(aoi="a", status=types_pb2.STATUS_NEW, page=0, limit=-1),
    ]


async def test_root_and_leaf_tiles(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    roots = await client.get("/aoi/requested/roottiles")
    # The common Tile: no status fields; the scene's aoi is the requested one.
    assert roots.status_code == 200
    assert roots.text == (
        '[{"id":7,"source_id":"T32UNG","scene":{"id":3,"source_id":"S2A_X","aoi":"requested","data":'
        '{"date":"0001-01-01T00:00:00Z","graph_name":"S2","graph_config":null,"record_id":"","metadata":null,'
        '"is_retriable":true,"storage_uri":""}},'
        '"data":{"swath_id":"","tile_nr":2,"graph_name":"g\\u003c1\\u003e","is_retriable":false}}]\n'
    )
    assert _answer(await client.get("/aoi/requested/leaftiles")) == (200, "[]\n")
    assert [(c.method, c.request) for c in fake.calls] == [
        ("ListRootTiles", workflow_pb2.ListGraphTilesRequest(aoi="requested")),
        ("ListLeafTiles", workflow_pb2.ListGraphTilesRequest(aoi="requested")),
    ]


async def test_dot(client: httpx.AsyncClient, fake: FakeWorkflow) -> None:
    answer = await client.get("/aoi/demo/dot")
    assert _answer(answer) == (200, "digraph demo {\n}\n")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert fake.calls[0].request == workflow_pb2.GetAoiDotRequest(aoi="demo")
