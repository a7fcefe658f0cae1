"""Hostile input through the real gateway and the real catalogue (real PostgreSQL): every request of
issue 11 that answered 500 (or a misleading 503) answers 400 naming the field, and nothing is stored."""

from __future__ import annotations

import json
import pathlib
import socket
from collections.abc import AsyncIterator

import grpc
import httpx
import psycopg
import pytest
from support.gatewaystack import GatewayStack, running_stack

from gateway import inputs
from protos.ingester.v1 import workflow_pb2, workflow_pb2_grpc
from services.catalogue import app as catalogue_app
from libs.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, Unavailable

TIMEOUT = 30.0
SQUARE = [[[9.0, 54.0], [10.0, 54.0], [10.0, 55.0], [9.0, 54.0]]]


def _area(**fields: object) -> bytes:
    doc = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": SQUARE},
        "name": "Inputs",
        "start_time": "2022-01-01T00:00:00Z",
        "end_time": "2022-01-10T00:00:00Z",
        "scene_type": {"constellation": "sentinel2"},
        **fields,
    }
    return json.dumps(doc).encode()


@pytest.fixture
async def stack(pg_dsn: str, tmp_path: pathlib.Path) -> AsyncIterator[tuple[GatewayStack, httpx.AsyncClient]]:
    async with (
        running_stack(pg_dsn, tmp_path) as running,
        httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=TIMEOUT) as http,
    ):
        yield running, http


async def _aois(http: httpx.AsyncClient) -> list[str]:
    answer = await http.get("/aoi/")
    assert answer.status_code == 200, answer.text
    return [aoi["ID"] for aoi in json.loads(answer.text)]


async def test_nul_in_path_and_query_is_refused_naming_the_parameter(stack) -> None:
    _, http = stack
    for method, path, name in [
        ("PUT", "/aoi/a%00b/retry", "aoi"),
        ("GET", "/aoi/a%00b", "aoi"),
        ("POST", "/aoi/a%00b", "aoi"),
        ("GET", "/aoi/a%00b/status", "aoi"),
        ("POST", "/registry/variables/a%00b/instances", "variable"),
    ]:
        answer = await http.request(method, path, json={"name": "raw"} if method == "POST" else None)
        assert answer.status_code == 400, (path, answer.text)
        assert f"path parameter '{name}'" in answer.text and "NUL" in answer.text
    answer = await http.get("/registry/variables?name=a%00b")
    assert answer.status_code == 400
    assert answer.text == "query parameter 'name': the NUL character (%00) is not allowed"
    assert await _aois(http) == []


async def test_nul_inside_json_strings_is_refused_naming_the_field(stack) -> None:
    _, http = stack
    answer = await http.post("/registry/variables", json={"name": "B01", "description": "a\u0000b"})
    assert answer.status_code == 400
    assert answer.text == "invalid JSON body: field 'description': the NUL character (\\u0000) is not allowed"
    created = await http.post("/registry/variables", json={"name": "B01"})
    assert created.status_code == 201, created.text
    answer = await http.post(
        "/registry/variables/B01/instances", json={"name": "raw", "metadata": {"k": "\u0000"}}
    )
    assert answer.status_code == 400 and "field 'metadata.k'" in answer.text
    answer = await http.put("/scene/1/data", json={"metadata": {"note": "x\u0000"}})
    assert answer.status_code == 400 and "field 'metadata.note'" in answer.text
    answer = await http.put("/tile/1/data", json={"graph_name": "\u0000"})
    assert answer.status_code == 400 and "field 'graph_name'" in answer.text
    answer = await http.post("/catalog/scenes", files={"area": ("a.json", _area(name="a\u0000b"))})
    assert answer.status_code == 400 and answer.text.startswith("loadArea: field 'name': the NUL character")
    listed = await http.get("/registry/variables")
    assert [v["instances"] for v in json.loads(listed.text)] == [[]]


async def test_deep_nesting_is_refused_in_every_json_input(stack) -> None:
    _, http = stack
    deep = "[" * 100_000
    answer = await http.post("/catalog/scenes", files={"area": ("a.json", deep.encode())})
    assert answer.status_code == 400 and answer.text.startswith(
        f"loadArea: JSON nested deeper than {inputs.MAX_JSON_DEPTH}"
    )
    nested = json.dumps(
        {
            "metadata": {
                "k": [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                                                            1
                                                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            }
        }
    )
    answer = await http.post(
        "/catalog/scenes",
        files={"area": ("a.json", _area(geometry={"type": "Polygon", "coordinates": json.loads(nested)}))},
    )
    assert answer.status_code == 400 and "field 'geometry.coordinates.metadata.k" in answer.text
    answer = await http.post(
        "/catalog/tiles", files={"area": ("a.json", _area()), "scenes": ("s.json", deep.encode())}
    )
    assert answer.status_code == 400 and answer.text.endswith(
        f"scenes: JSON nested deeper than {inputs.MAX_JSON_DEPTH} levels"
    )
    for method, path in [
        ("PUT", "/scene/1/data"),
        ("PUT", "/tile/1/data"),
        ("POST", "/aoi/A/scene"),
        ("POST", "/registry/variables"),
    ]:
        answer = await http.request(method, path, content=deep.encode())
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        assert "nested deeper" in answer.text
    assert await _aois(http) == []


async def test_geometry_type_that_is_not_a_string(stack) -> None:
    _, http = stack
    area = _area(geometry={"type": ["MultiPolygon"], "coordinates": [SQUARE]})
    answer = await http.post("/catalog/aoi", files={"area": ("a.json", area)})
    assert answer.status_code == 400
    assert answer.text.startswith(
        "loadArea: field 'geometry.type': invalid geojson geometry type ([\"MultiPolygon\"])"
    )
    answer = await http.post(
        "/catalog/scenes", files={"area": ("a.json", json.dumps({"type": {"a": 1}}).encode())}
    )
    assert answer.status_code == 400 and "unknown type" in answer.text


@pytest.mark.parametrize("wait", ["nan", "NaN", "inf", "-inf", "-1", "1e400", "soon"])
async def test_status_wait_must_be_finite_seconds(stack, wait: str) -> None:
    _, http = stack
    answer = await http.get(f"/aoi/Nowhere/status?wait={wait}")
    assert answer.status_code == 400
    assert answer.text == f"wait: expected seconds (a number >= 0), got {wait!r}"


async def test_long_names_are_refused_before_the_database(stack) -> None:
    _, http = stack
    limit = inputs.MAX_NAME_CHARS
    for size in (limit + 1, 10_000, 3 * 1024 * 1024):
        answer = await http.post("/catalog/aoi", files={"area": ("a.json", _area(name="A" * size))})
        assert answer.status_code == 400
        assert answer.text.startswith(f"loadArea: field 'name': {size} characters, the limit is {limit}")
    answer = await http.post("/aoi/" + "A" * (limit + 1))
    assert (
        answer.status_code == 400
        and answer.text == f"path parameter 'aoi': {limit + 1} characters, the limit is {limit}"
    )
    answer = await http.post("/registry/variables", json={"name": "V" * (limit + 1)})
    assert answer.status_code == 400 and "field 'name'" in answer.text
    # A name at the limit is fine end to end (NOTIFY payload, index rows).
    created = await http.post("/aoi/" + "A" * limit)
    assert created.status_code == 204, created.text
    assert await _aois(http) == ["A" * limit]


async def test_catalogue_refuses_permanent_database_errors_as_invalid_argument(stack) -> None:
    """A gRPC client bypasses the gateway's limits: the database's refusal is INVALID_ARGUMENT (the
    caller's error), not UNAVAILABLE (retry forever) nor INTERNAL."""
    running, _ = stack
    async with grpc.aio.insecure_channel(running.catalogue.target) as channel:
        workflow = workflow_pb2_grpc.WorkflowStub(channel)
        # 10,000 characters: longer than a NOTIFY payload; 3 MB: larger than an index row.
        for name, reason in [("M" * 3 * 1024 * 1024, "too long to be stored")]:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await workflow.CreateAoi(workflow_pb2.CreateAoiRequest(aoi=name), timeout=TIMEOUT)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
            details = caught.value.details() or ""
            assert details.startswith("request: ") and reason in details, details


@pytest.mark.parametrize(
    ("statement", "expected", "text"),
    [
        ("SELECT pg_notify('c', repeat('n', 10000))", InvalidArgument, "payload string too long"),
        ("SELECT 'a\\x00b'::bytea::text::int", InvalidArgument, "invalid input syntax"),
        ("SELECT 1/0", InvalidArgument, "division by zero"),
        (
            "CREATE TEMP TABLE t (x int PRIMARY KEY); INSERT INTO t VALUES (1), (1)",
            AlreadyExists,
            "duplicate key",
        ),
        (
            "CREATE TEMP TABLE p (x int PRIMARY KEY); CREATE TEMP TABLE c (x int REFERENCES p); INSERT INTO c VALUES (1)",
            FailedPrecondition,
            "foreign key",
        ),
        (
            "CREATE TEMP TABLE k (x int CHECK (x > 0)); INSERT INTO k VALUES (0)",
            InvalidArgument,
            "check constraint",
        ),
        (f"SELECT 1 AS {'x' * 70}x", None, ""),  # a notice (identifier truncated), not an error
        # Class 42 (a statement of ours that is wrong): a bug, left to the error interceptor's INTERNAL.
        ("SELECT 1 FROM (SELECT 1) AS t(a, b)", None, "has 1 columns available but 2 columns"),
        ("SELECT pg_sleep(5)", Unavailable, "retry later"),
    ],
)
async def test_database_errors_by_sqlstate(
    pg_dsn: str, statement: str, expected: type | None, text: str
) -> None:
    """Real errors of the real server, classified by SQLSTATE (a statement timeout is an outage)."""
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute("SET statement_timeout = '50ms'")
        if expected is None and not text:
            await conn.execute(statement)
            return
        with pytest.raises(psycopg.Error) as caught:
            for part in statement.split("; "):
                await conn.execute(part)
    translated = catalogue_app.database_errors(caught.value)
    if expected is None:
        assert translated is None and text in str(caught.value)
        return
    assert type(translated) is expected and text in str(translated)


async def test_database_outage_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more: connection refused, no SQLSTATE.
    with pytest.raises(psycopg.OperationalError) as caught:
        await psycopg.AsyncConnection.connect(f"postgresql://x@127.0.0.1:{port}/x", connect_timeout=5)
    translated = catalogue_app.database_errors(caught.value)
    assert isinstance(translated, Unavailable) and str(translated) == "database unavailable, retry later"
    assert catalogue_app.database_errors(ValueError("a bug")) is None


@pytest.fixture
async def placed(
    pg_dsn: str, tmp_path: pathlib.Path
) -> AsyncIterator[tuple[pathlib.Path, httpx.AsyncClient]]:
    """A catalogue that knows the workers' graph folder and storage root."""
    graphs, storage = tmp_path / "graphs", tmp_path / "storage"
    graphs.mkdir()
    (graphs / "Mine.json").write_text('{"processing_steps": []}')
    async with (
        running_stack(
            pg_dsn,
            tmp_path,
            graph_path=(str(graphs),),
            storage_uri=str(storage),
            storage_allowed_uris=("s3://ok",),
        ) as running,
        httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=TIMEOUT) as http,
    ):
        yield tmp_path, http


def _refused_without_paths(answer: httpx.Response, field: str, root: pathlib.Path) -> None:
    assert answer.status_code == 400, answer.text
    assert f"{field}: " in answer.text
    assert (
        str(root) not in answer.text and "/geocube" not in answer.text and "site-packages" not in answer.text
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scene_graph_name": "../../etc/passwd"}, "scene_graph_name"),
        ({"tile_graph_name": "file:%2e%2e/%2e%2e/etc/passwd"}, "tile_graph_name"),
        ({"tile_graph_name": "/etc/passwd"}, "tile_graph_name"),
        ({"scene_graph_name": "gs://bucket/graph.json"}, "scene_graph_name"),
        ({"scene_graph_name": "Nope.json"}, "scene_graph_name"),
        ({"storage_uri": "/etc"}, "storage_uri"),
        ({"storage_uri": "s3://other-bucket/x"}, "storage_uri"),
    ],
)
async def test_ingestion_refuses_graphs_and_storage_the_workers_would_refuse(placed, fields, field) -> None:
    root, http = placed
    area = _area(**{"scene_graph_name": "CopyProductToStorage", "tile_graph_name": "Mine.json", **fields})
    answer = await http.post("/catalog/aoi", files={"area": ("a.json", area)})
    _refused_without_paths(answer, field, root)
    assert await _aois(http) == []


async def test_ingestion_accepts_what_the_workers_accept(placed) -> None:
    root, http = placed
    for fields in (
        {"scene_graph_name": "CopyProductToStorage", "tile_graph_name": "Mine.json"},
        {
            "scene_graph_name": "library/graph/ExtractS2Bands.json",
            "tile_graph_name": str(root / "graphs" / "Mine.json"),
        },
        {"scene_graph_name": "Pass", "tile_graph_name": "Pass", "storage_uri": str(root / "storage" / "sub")},
        {"scene_graph_name": "Pass", "tile_graph_name": "Pass", "storage_uri": "s3://ok/prefix"},
    ):
        # An empty tiles collection: no search (the archive is empty), only the payload's checks.
        none = b'{"type":"FeatureCollection","features":[]}'
        answer = await http.post(
            "/catalog/aoi", files={"area": ("a.json", _area(**fields)), "tiles": ("t.json", none)}
        )
        assert answer.status_code == 200, (fields, answer.text)


async def test_scene_ingestion_and_data_updates_are_checked_too(placed) -> None:
    root, http = placed
    assert (await http.post("/aoi/A")).status_code == 204
    scene = {
        "source_id": "S",
        "data": {"graph_name": "../x.json"},
        "tiles": {"T": {"data": {"graph_name": "Pass"}}},
    }
    _refused_without_paths(await http.post("/aoi/A/scene", json=scene), "data.graph_name", root)
    scene["data"] = {"graph_name": "Pass", "storage_uri": "/tmp"}
    _refused_without_paths(await http.post("/aoi/A/scene", json=scene), "data.storage_uri", root)
    scene["data"] = {"graph_name": "Pass"}
    scene["tiles"] = {"T": {"data": {"graph_name": "/etc/passwd"}}}
    _refused_without_paths(await http.post("/aoi/A/scene", json=scene), "tiles.T.data.graph_name", root)
    _refused_without_paths(
        await http.put("/scene/1/data", json={"graph_name": "../x"}), "data.graph_name", root
    )
    _refused_without_paths(
        await http.put("/tile/1/data", json={"graph_name": "../x"}), "data.graph_name", root
    )
    answer = await http.get("/aoi/A/scenes")
    assert answer.status_code == 200 and json.loads(answer.text) == []
