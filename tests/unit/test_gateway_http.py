"""The gateway's HTTP behaviour (spec §4.1, §4.2, §4.3) over a real socket.

The gateway runs with uvicorn on 127.0.0.1:0. Its catalogue is a small recording servicer on a real
grpc.aio server (the catalogue is another process; what matters here is what the gateway sends and how it
renders the answers). Requests that must fail before any gRPC call are checked to make none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio

from gateway.app import RunningGateway, serve
from gateway.refjson import encode_scene_collection
from gateway.settings import GatewaySettings
from protos.ingester.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    types_pb2,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"
S2_PAYLOAD = (FIXTURES / "DenmarkDemoS2.json").read_bytes()
TOKEN = "s3cret"
LIMIT = 64 * 1024
TIMEOUT = 10.0

SCENE = types_pb2.CatalogScene(
    source_id="S2A_MSIL1C_20220104T103421_N0301_R108_T32UNG_20220104T123645",
    aoi="DenmarkDemoS2",
    wkt="POLYGON ((9 54, 10 54, 10 55, 9 54))",
    tags={"constellation": "SENTINEL2"},
    data=types_pb2.SceneAttrs(),  # a decoded upload always has its `data`
)


@dataclasses.dataclass
class Recorded:
    method: str
    request: Any
    request_id: str | None
    time_remaining: float | None


class FakeCatalogue(catalogue_pb2_grpc.CatalogueServicer, registry_pb2_grpc.RegistryServicer):
    """Answers canned data and records every call."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []

    def _record(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.calls.append(Recorded(method, request, metadata.get("x-request-id"), context.time_remaining()))

    async def SearchScenes(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("SearchScenes", request, context)
        return catalogue_pb2.SearchScenesResponse(scenes=[SCENE], next=True)

    async def ListTiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("ListTiles", request, context)
        return catalogue_pb2.ListTilesResponse(scenes=request.scenes)

    async def IngestArea(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("IngestArea", request, context)
        if request.area.name == "":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "validateArea: wrong format for AOIID (must be chars, numbers and -:_ found '')",
            )
        return catalogue_pb2.IngestAreaResponse(scene_count=2, tile_count=5)

    async def ListAois(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("ListAois", request, context)
        return catalogue_pb2.ListAoisResponse(
            aois=[types_pb2.Aoi(id="DenmarkDemo", status=types_pb2.STATUS_DONE)]
        )

    async def GetAoiReport(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("GetAoiReport", request, context)
        return catalogue_pb2.GetAoiReportResponse(root_tiles=1)

    async def ListScenes(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("ListScenes", request, context)
        return catalogue_pb2.ListScenesResponse()

    async def GetScene(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("GetScene", request, context)
        if request.id == 404:
            await context.abort(grpc.StatusCode.NOT_FOUND, "scene 404 not found")
        return types_pb2.Scene(id=request.id, status=types_pb2.STATUS_PENDING)

    async def CreateVariable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record("CreateVariable", request, context)
        if request.name == "taken":
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "variable taken already exists")
        return registry_pb2.Variable(id="v1", name=request.name, dtype=request.dtype or "float32")


@pytest_asyncio.fixture(scope="module")
async def catalogue() -> AsyncIterator[tuple[FakeCatalogue, str]]:
    servicer = FakeCatalogue()
    server = grpc.aio.server()
    catalogue_pb2_grpc.add_CatalogueServicer_to_server(servicer, server)
    registry_pb2_grpc.add_RegistryServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await asyncio.wait_for(server.start(), TIMEOUT)
    yield servicer, f"127.0.0.1:{port}"
    await asyncio.wait_for(server.stop(None), TIMEOUT)


async def _start(**overrides: Any) -> RunningGateway:
    settings = GatewaySettings(
        address="127.0.0.1:0", max_upload_bytes=LIMIT, rpc_timeout_seconds=5, **overrides
    )
    return await asyncio.wait_for(serve(settings), TIMEOUT)


@pytest_asyncio.fixture(scope="module")
async def open_gateway(catalogue: tuple[FakeCatalogue, str]) -> AsyncIterator[RunningGateway]:
    running = await _start(catalogue_address=catalogue[1])
    yield running
    await asyncio.wait_for(running.stop(), TIMEOUT)


@pytest_asyncio.fixture(scope="module")
async def locked_gateway(catalogue: tuple[FakeCatalogue, str]) -> AsyncIterator[RunningGateway]:
    running = await _start(catalogue_address=catalogue[1], bearer_tokens=("other", TOKEN))
    yield running
    await asyncio.wait_for(running.stop(), TIMEOUT)


@pytest.fixture
def calls(catalogue: tuple[FakeCatalogue, str]) -> list[Recorded]:
    catalogue[0].calls.clear()
    return catalogue[0].calls


@pytest_asyncio.fixture
async def client(open_gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=open_gateway.url, timeout=TIMEOUT) as http:
        yield http


@pytest_asyncio.fixture
async def locked(locked_gateway: RunningGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=locked_gateway.url, timeout=TIMEOUT) as http:
        yield http


# --------------------------------------------------------------------------------------------------
# Server-level behaviour


async def test_root_answers_without_auth(locked: httpx.AsyncClient) -> None:
    answer = await locked.get("/")
    assert (answer.status_code, answer.text) == (200, "ingester ok")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "path", ["/nope", "/aoi", "/catalog/aoi/", "/aoi/x/tiles", "/scene/", "/aoi/x/scenes/DONE/more"]
)
async def test_unknown_paths_are_404_without_auth(locked: httpx.AsyncClient, path: str) -> None:
    answer = await locked.get(path)
    assert (answer.status_code, answer.text) == (404, "404 page not found\n")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/catalog/aoi"),
        ("PUT", "/catalog/scenes"),
        ("DELETE", "/"),
        ("HEAD", "/"),
        ("POST", "/tile/1"),
    ],
)
async def test_wrong_method_is_405_empty_without_auth(
    locked: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await locked.request(method, path)
    assert (answer.status_code, answer.content) == (405, b"")


@pytest.mark.parametrize(
    "authorization, body",
    [
        (None, '"token not found"\n'),
        ("", '"token not found"\n'),
        ("s3cret", '"missing \\"Bearer \\" prefix"\n'),
        ("bearer s3cret", '"missing \\"Bearer \\" prefix"\n'),
        ("Bearer wrong", '"invalid token"\n'),
        ("Bearer  s3cret", '"invalid token"\n'),
    ],
)
async def test_auth_answers(
    locked: httpx.AsyncClient, calls: list[Recorded], authorization: str | None, body: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = await locked.get("/aoi/", headers=headers)
    assert (answer.status_code, answer.text) == (403, body)
    assert not calls


@pytest.mark.parametrize("token", [TOKEN, "other"])
async def test_any_configured_token_is_accepted(
    locked: httpx.AsyncClient, calls: list[Recorded], token: str
) -> None:
    answer = await locked.get("/aoi/", headers={"authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.text) == (200, '[{"ID":"DenmarkDemo","status":"DONE"}]\n')
    assert [c.method for c in calls] == ["ListAois"]


async def test_options_without_origin_is_answered_before_routing(locked: httpx.AsyncClient) -> None:
    answer = await locked.options("/does/not/exist")
    assert (answer.status_code, answer.content) == (200, b"")
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    "headers, status, allow_headers, allow_methods",
    [
        ({}, 400, None, None),
        ({"Access-Control-Request-Method": "PATCH"}, 405, None, None),
        (
            {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-custom"},
            403,
            None,
            None,
        ),
        (
            {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "accept, origin"},
            200,
            None,
            None,
        ),
        (
            {
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
            200,
            "Content-Type,Authorization",
            "PUT",
        ),
        (
            {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Authorization"},
            200,
            "Authorization",
            None,
        ),
    ],
)
async def test_cors_preflight(
    locked: httpx.AsyncClient,
    headers: dict[str, str],
    status: int,
    allow_headers: str | None,
    allow_methods: str | None,
) -> None:
    answer = await locked.options("/catalog/aoi", headers={"Origin": "https://notebook.example", **headers})
    assert (answer.status_code, answer.content) == (status, b"")
    assert answer.headers.get("access-control-allow-headers") == allow_headers
    assert answer.headers.get("access-control-allow-methods") == allow_methods
    if status == 200:
        assert answer.headers["access-control-allow-origin"] == "*"


async def test_cors_header_on_actual_requests(locked: httpx.AsyncClient) -> None:
    for path in ("/", "/nope", "/aoi/"):
        answer = await locked.get(path, headers={"Origin": "https://notebook.example"})
        assert answer.headers["access-control-allow-origin"] == "*"
    plain = await locked.get("/")
    assert "access-control-allow-origin" not in plain.headers


async def _raw_request(gateway: RunningGateway, target: str) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(gateway.host, gateway.port), TIMEOUT)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await asyncio.wait_for(writer.drain(), TIMEOUT)
    data = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), TIMEOUT)
    return data


@pytest.mark.parametrize(
    "target, location",
    [
        ("//aoi/", "/aoi/"),
        ("/aoi/./x/../y?page=1", "/aoi/y?page=1"),
        ("/scene//1", "/scene/1"),
        ("/a/..", "/"),
    ],
)
async def test_non_canonical_paths_redirect(
    locked_gateway: RunningGateway, target: str, location: str
) -> None:
    answer = await _raw_request(locked_gateway, target)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in header_lines)}
    assert status_line.startswith("HTTP/1.1 301 ")
    assert headers["location"] == location
    assert body == b""


async def test_request_id_is_echoed_and_sent_to_the_catalogue(
    client: httpx.AsyncClient, calls: list[Recorded]
) -> None:
    answer = await client.get("/aoi/", headers={"X-Request-Id": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"
    generated = await client.get("/aoi/", headers={"X-Request-Id": "no spaces allowed"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert [c.request_id for c in calls] == ["abc-123", generated.headers["x-request-id"]]
    # Every call carries a deadline.
    assert all(c.time_remaining is not None and 0 < c.time_remaining < 6 for c in calls)


# --------------------------------------------------------------------------------------------------
# Catalogue forms


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no body at all
        {"files": {"scenes": ("s.json", b"{}")}},  # multipart without the field
        {"data": {"area": ""}},  # urlencoded, empty
        {"files": {"area": ("area.json", b"")}},  # empty file part
        {"files": {"area": (None, b"")}},  # empty text part
    ],
)
@pytest.mark.parametrize("path", ["/catalog/scenes", "/catalog/tiles", "/catalog/aoi"])
async def test_missing_area(
    client: httpx.AsyncClient, calls: list[Recorded], path: str, kwargs: dict[str, Any]
) -> None:
    answer = await client.post(path, **kwargs)
    assert (answer.status_code, answer.text) == (
        400,
        "loadArea: missing required field: 'area' (application/json)",
    )
    assert not calls


@pytest.mark.parametrize(
    "content_type, reason",
    [
        ("multipart/form-data", "Missing boundary"),
        ("multipart/form-data; boundary=zz", "Invalid multipart data"),
    ],
)
async def test_invalid_multipart_body(
    client: httpx.AsyncClient, calls: list[Recorded], content_type: str, reason: str
) -> None:
    answer = await client.post("/catalog/scenes", content=b"garbage", headers={"Content-Type": content_type})
    assert answer.status_code == 400
    assert answer.text.startswith("loadArea: invalid multipart body: ") and reason in answer.text
    assert not calls


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": {"area": ("area.json", b'{"type": "Feature",')}},
        {"files": {"area": (None, b'{"type": "Feature",')}},
        {"data": {"area": '{"type": "Feature",'}},
        {"params": {"area": '{"type": "Feature",'}},
    ],
)
async def test_malformed_area_json(
    client: httpx.AsyncClient, calls: list[Recorded], kwargs: dict[str, Any]
) -> None:
    answer = await client.post("/catalog/scenes", **kwargs)
    assert answer.status_code == 400
    assert answer.text.startswith("loadArea: Expecting")
    assert answer.text.endswith('\nJSON:\n{"type": "Feature",')
    assert not calls


async def test_area_field_errors_name_the_field(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    payload = S2_PAYLOAD.replace(b'"2022-01-01T00:00:00.000Z"', b'"2022-01-01"')
    answer = await client.post("/catalog/aoi", files={"area": ("area.json", payload)})
    assert answer.status_code == 400
    assert answer.text.startswith("loadArea: field 'start_time': ")
    assert not calls


async def test_oversize_uploads_are_413(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    big = b"x" * (LIMIT + 1)
    answer = await client.post(
        "/catalog/aoi", files={"area": ("area.json", S2_PAYLOAD), "scenes": ("s.json", big)}
    )
    assert answer.status_code == 413
    assert str(LIMIT) in answer.text

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * (LIMIT // 2)

    streamed = await client.post(
        "/catalog/scenes", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413
    assert not calls


async def test_query_overrides_page_and_limit(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    landsat = (FIXTURES / "DenmarkDemoLandsat.json").read_bytes()  # page 1, limit 4
    answer = await client.post(
        "/catalog/scenes",
        params={"page": "2", "limit": "+7"},
        files={"area": ("a.json", landsat), "page": (None, b"9")},
    )
    assert answer.status_code == 200
    assert answer.text == encode_scene_collection([SCENE], next_page=True)
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    # GET with a multipart body works too (the reference reads multipart for any method).
    ignored = await client.request(
        "GET", "/catalog/scenes", params={"page": "two", "limit": "1.5"}, files={"area": ("a.json", landsat)}
    )
    assert ignored.status_code == 200
    assert [(c.request.area.page, c.request.area.limit) for c in calls] == [(2, 7), (1, 4)]
    assert calls[0].request.area.name == "DenmarkDemoLandsat"


async def test_out_of_range_query_paging_is_400(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    answer = await client.post("/catalog/scenes?limit=99999999999", files={"area": ("a.json", S2_PAYLOAD)})
    assert answer.status_code == 400 and "'limit'" in answer.text
    assert not calls


async def test_tiles_requires_scenes(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    for extra in ({}, {"scenes": ("s.json", b"")}):
        answer = await client.post("/catalog/tiles", files={"area": ("a.json", S2_PAYLOAD), **extra})
        assert (answer.status_code, answer.text) == (
            400,
            "missing required field: 'scenes' (application/json)",
        )
    bad = await client.post(
        "/catalog/tiles", files={"area": ("a.json", S2_PAYLOAD), "scenes": ("s.json", b"[oops")}
    )
    assert bad.status_code == 400 and bad.text.startswith("[oops Expecting value")
    assert not calls


async def test_tiles_round_trip(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    uploaded = encode_scene_collection([SCENE], next_page=True).encode()
    answer = await client.post(
        "/catalog/tiles", files={"area": ("a.json", S2_PAYLOAD), "scenes": ("s.json", uploaded)}
    )
    assert answer.status_code == 200
    assert answer.text == encode_scene_collection([SCENE])  # no `properties` on an uploaded collection
    assert list(calls[0].request.scenes) == [SCENE]


async def test_ingest_answer_and_sources(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    collection = encode_scene_collection([SCENE]).encode()
    forms = [
        {"area": ("a.json", S2_PAYLOAD)},
        {"area": ("a.json", S2_PAYLOAD), "scenes": ("s.json", collection)},
        {"area": ("a.json", S2_PAYLOAD), "tiles": ("t.json", collection), "scenes": ("s.json", b"ignored")},
        {"area": ("a.json", S2_PAYLOAD), "tiles": ("t.json", b""), "scenes": ("s.json", collection)},
    ]
    for files in forms:
        answer = await client.post("/catalog/aoi", files=files)
        assert answer.status_code == 200
        assert re.fullmatch(
            r"Ingestion of 2 scenes and 5 tiles in progress \([0-9.]+(ns|µs|ms|s)\)\n", answer.text
        )
    assert [c.request.WhichOneof("source") for c in calls] == [None, "scenes", "tiles", "scenes"]
    assert calls[2].request.tiles.scenes[0] == SCENE
    assert all(c.request.area.name == "DenmarkDemoS2" for c in calls)


async def test_ingest_rejects_invalid_uploads(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    answer = await client.post(
        "/catalog/aoi", files={"area": ("a.json", S2_PAYLOAD), "tiles": ("t.json", b"{nope")}
    )
    assert answer.status_code == 400 and answer.text.startswith("{nope Expecting")
    assert not calls


async def test_ingest_validation_error_is_400_with_its_text(
    client: httpx.AsyncClient, calls: list[Recorded]
) -> None:
    payload = S2_PAYLOAD.replace(b'"name":"DenmarkDemoS2"', b'"name":""')
    answer = await client.post("/catalog/aoi", files={"area": ("a.json", payload)})
    assert (answer.status_code, answer.text) == (
        400,
        "validateArea: wrong format for AOIID (must be chars, numbers and -:_ found '')",
    )


# --------------------------------------------------------------------------------------------------
# Monitoring


@pytest.mark.parametrize(
    "path", ["/scene/abc", "/scene/1.5", "/scene/99999999999999999999", "/tile/x", "/scene/x/tiles"]
)
async def test_non_integer_ids_are_400_empty(
    client: httpx.AsyncClient, calls: list[Recorded], path: str
) -> None:
    answer = await client.get(path)
    assert (answer.status_code, answer.content) == (400, b"")
    assert not calls


async def test_scene_lookup(client: httpx.AsyncClient) -> None:
    missing = await client.get("/scene/404")
    assert (missing.status_code, missing.content) == (404, b"")
    found = await client.get("/scene/+7")
    assert found.status_code == 200
    assert found.text.startswith('{"id":7,"source_id":"","aoi":"","data":{"date":"0001-01-01T00:00:00Z",')
    assert found.text.endswith('"status":"PENDING","message":"","RetryCountDown":0}\n')


async def test_aoi_routes(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    report = await client.get("/aoi/DenmarkDemo")
    assert report.status_code == 200 and report.text.startswith("Scenes:\n  new:     0\n")
    assert "\nRoot tiles : 1\n" in report.text
    listed = await client.get("/aoi/Denmark*")
    assert listed.text == '[{"ID":"DenmarkDemo","status":"DONE"}]\n'
    lower = await client.get("/aoi/DenmarkDemo/scenes/done")
    assert (lower.status_code, lower.text) == (200, "[]\n")
    upper = await client.get("/aoi/DenmarkDemo/scenes/DONE?page=1&limit=2")
    assert upper.text == "[]\n"
    unpaged = await client.get("/aoi/DenmarkDemo/scenes?page=x")
    assert unpaged.status_code == 200
    methods = [(c.method, c.request) for c in calls]
    assert methods == [
        ("GetAoiReport", catalogue_pb2.GetAoiReportRequest(aoi="DenmarkDemo")),
        ("ListAois", catalogue_pb2.ListAoisRequest(pattern="Denmark*")),
        (
            "ListScenes",
            catalogue_pb2.ListScenesRequest(aoi="DenmarkDemo", status=types_pb2.STATUS_DONE, page=1, limit=2),
        ),
        ("ListScenes", catalogue_pb2.ListScenesRequest(aoi="DenmarkDemo", page=0, limit=-1)),
    ]


async def test_unreachable_catalogue_is_503(catalogue: tuple[FakeCatalogue, str]) -> None:
    running = await _start(catalogue_address="127.0.0.1:1")
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=TIMEOUT) as http:
            answer = await http.get("/aoi/")
        assert answer.status_code == 503 and answer.text
    finally:
        await asyncio.wait_for(running.stop(), TIMEOUT)


# --------------------------------------------------------------------------------------------------
# Registry


async def test_registry_variable_creation(client: httpx.AsyncClient, calls: list[Recorded]) -> None:
    created = await client.post("/registry/variables", json={"name": "B01", "unit": "", "dtype": "uint16"})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert (
        created.text
        == '{"id":"v1","name":"B01","unit":"","description":"","dtype":"uint16","instances":[]}\n'
    )
    taken = await client.post("/registry/variables", json={"name": "taken"})
    assert (taken.status_code, taken.text) == (409, "variable taken already exists")
    unknown = await client.post("/registry/variables", json={"name": "B02", "units": "m"})
    assert unknown.status_code == 400 and "field 'units'" in unknown.text
    wrong = await client.post("/registry/variables", json={"name": 3})
    assert wrong.status_code == 400 and "field 'name'" in wrong.text
    assert [c.method for c in calls] == ["CreateVariable", "CreateVariable"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GEOCUBE_GATEWAY_ADDRESS", "nope"), ("GEOCUBE_GATEWAY_MAX_UPLOAD_BYTES", "x")],
)
def test_a_bad_setting_stops_the_gateway_with_one_line_naming_it(variable: str, value: str) -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "gateway"], check=False, env={**os.environ, variable: value},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gateway: {variable}: " + done.stderr.split(": ", 2)[2].strip()
    ]
    assert "Traceback" not in done.stderr
