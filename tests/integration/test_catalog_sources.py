"""`/catalog/scenes` through the real gateway and catalogue, the catalogue configured (as an operator
would, through its settings) to search local servers speaking the CDSE OData and USGS STAC protocols,
with the local archive as Sentinel-2 fallback. Payloads are the reference's demo files; the answers
are compared field by field with the reference's saved scenes.json."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from gateway.app import serve
from gateway.settings import GatewaySettings
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from tests.support.httpserver import LocalHTTPServer, Request, Response

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parents[1] / "shared" / "fixtures" / "reference"
SOURCES = ROOT / "fixtures" / "sources"
TIMEOUT = 30.0


def _load(name: str) -> Any:
    return json.loads((SOURCES / name).read_text())


class Remotes:
    """One local server for both protocols; `s2_answer` lets a test break the Sentinel-2 search."""

    def __init__(self) -> None:
        self.s1, self.s2, self.landsat = (
            _load("cdse_s1_denmark.json"),
            _load("cdse_s2_denmark.json"),
            _load("usgs_landsat_c2l1_denmark.json"),
        )
        self.s2_answer: Callable[[Request], Response] | None = None
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path == "/odata/v1/Products":
            is_s1 = "Collection/Name eq 'SENTINEL-1'" in (request.param("$filter") or "")
            if not is_s1 and self.s2_answer is not None:
                return self.s2_answer(request)
            skip, top = int(request.param("$skip", "0")), int(request.param("$top", "0"))
            hits = (self.s1 if is_s1 else self.s2)["value"]
            return Response.json({"value": hits[skip : skip + top]})
        if request.path == "/stac-server/search":
            body = json.loads(request.body)
            start, limit = int(body.get("next", 0)), body["limit"]
            features = self.landsat["features"]
            links = []
            if start + limit < len(features):
                href = f"http://{request.headers['host']}{request.path}"
                links.append(
                    {
                        "rel": "next",
                        "href": href,
                        "method": "POST",
                        "body": {**body, "next": str(start + limit)},
                    }
                )
            return Response.json(
                {"type": "FeatureCollection", "features": features[start : start + limit], "links": links}
            )
        return Response(404, b"not found")


class Stack:
    def __init__(self, http: httpx.AsyncClient, remotes: Remotes, archive_ids: list[str]) -> None:
        self.http, self.remotes, self.archive_ids = http, remotes, archive_ids

    async def scenes(self, payload: str, query: str = "") -> httpx.Response:
        content = (REFERENCE / payload).read_bytes()
        return await self.http.post(f"/catalog/scenes{query}", files={"area": ("area.json", content)})


@pytest.fixture
async def stack(pg_dsn: str, tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    """Extra catalogue settings come from an indirect parameter."""
    archive_ids = await asyncio.to_thread(build_demo_archive, tmp_path / "archive", count=2, band_size=16)
    remotes = Remotes()
    with LocalHTTPServer(remotes) as server:
        settings = CatalogueSettings(
            database_dsn=pg_dsn,
            address="127.0.0.1:0",
            archive_path=str(tmp_path / "archive"),
            scene_sources="sentinel1=cdse;sentinel2=cdse,archive;landsat89=usgs-stac",
            cdse_odata_url=f"{server.url}/odata/v1",
            usgs_stac_url=f"{server.url}/stac-server",
            source_retries=0,
            source_timeout=5.0,
            **getattr(request, "param", {}),
        )
        catalogue = await asyncio.wait_for(catalogue_app.start(settings), TIMEOUT)
        gateway = await asyncio.wait_for(
            serve(GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target)), TIMEOUT
        )
        try:
            async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as http:
                yield Stack(http, remotes, archive_ids)
        finally:
            await asyncio.wait_for(gateway.stop(), TIMEOUT)
            await asyncio.wait_for(catalogue.stop(grace=0.5), TIMEOUT)


def _collection(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.text.endswith("\n")
    return json.loads(response.text)


async def test_s1_demo_matches_the_reference_scenes(stack: Stack) -> None:
    collection = _collection(await stack.scenes("DenmarkDemoS1.json"))
    reference = json.loads((REFERENCE / "scenes.json").read_text())
    expected = {f["properties"]["source_id"]: f for f in reference["features"]}
    assert collection["properties"] == {"next": "false"}
    # Acquisition order, as the reference's Copernicus provider (the saved file is newest first).
    ids = [f["properties"]["source_id"] for f in collection["features"]]
    assert ids == sorted(expected, key=lambda i: i[17:32])
    for index, feature in enumerate(collection["features"]):
        ref = expected[feature["properties"]["source_id"]]
        props, ref_props = feature["properties"], ref["properties"]
        assert feature["id"] == index and feature["type"] == "Feature"
        assert feature["geometry"] == ref["geometry"]
        assert list(props) == ["aoi", "data", "id", "source_id", "tags", "wkt"]
        assert props["aoi"] == ref_props["aoi"] == "DenmarkDemo"
        assert props["id"] == 0
        assert props["wkt"].startswith("POLYGON ((") and ref_props["GeometryWKT"].startswith("MULTIPOLYGON")
        ref_data = ref_props["data"]
        assert props["data"] == {
            "date": ref_data["date"],
            "graph_config": ref_data["graph_config"],
            "graph_name": ref_data["graph_name"],
            "is_retriable": True,
            "metadata": {
                "checksum": props["data"]["metadata"]["checksum"],
                "download_link": f"https://download.dataspace.copernicus.eu/odata/v1/Products({ref_data['uuid']})/$value",
                "size": props["data"]["metadata"]["size"],
                "uuid": ref_data["uuid"],
            },
            "record_id": "",
            "storage_uri": "",
        }
        assert set(props["data"]["metadata"]["checksum"]) == {"md5", "blake3"}
        # The saved file comes from SciHub: its ingestion date, `VV VH` and lastOrbit tags are SciHub's.
        ref_tags = {k: v for k, v in ref_props["Tags"].items() if k not in ("lastOrbit", "lastRelativeOrbit")}
        start = next(
            p["ContentDate"]["Start"] for p in stack.remotes.s1["value"] if p["Id"] == ref_data["uuid"]
        )
        assert props["tags"] == {**ref_tags, "ingestionDate": start, "polarisationMode": "VV&VH"}


async def test_s2_demo_refines_and_tags(stack: Stack) -> None:
    collection = _collection(await stack.scenes("DenmarkDemoS2.json"))
    ids = [f["properties"]["source_id"] for f in collection["features"]]
    # The N0400 re-processing collapses into the N0301 copy; the T32UPF scene lies outside the AOI.
    assert ids == [
        "S2A_MSIL1C_20220103T104441_N0301_R008_T32UNF_20220103T112427",
        "S2B_MSIL1C_20220105T103329_N0301_R108_T32UNG_20220105T113002",
    ]
    props = collection["features"][0]["properties"]
    assert props["tags"] == {
        "area": "Denmark",
        "cloudCoverPercentage": "63.42",
        "constellation": "SENTINEL2",
        "ingestionDate": "2022-01-03T10:44:41.024Z",
        "orbit": "34024",
        "orbitDirection": "DESCENDING",
        "productType": "S2MSI1C",
        "provider": "geocube-ingester",
        "relativeOrbit": "8",
        "satellite": "SENTINEL2A",
        "source": "tutorial",
        "sourceID": ids[0],
        "uuid": "0a8f7a0e-6c5c-4c1e-9c52-5a1b8a3c0001",
    }
    assert props["data"]["graph_name"] == "CopyProductToStorage" and props["data"]["graph_config"] == {}
    (request,) = [r for r in stack.remotes.requests if "SENTINEL-2" in (r.param("$filter") or "")]
    assert "att/OData.CSC.DoubleAttribute/Value le 80.00" in (request.param("$filter") or "")


async def test_landsat_demo_pages_like_the_payload_says(stack: Stack) -> None:
    second_page = _collection(await stack.scenes("DenmarkDemoLandsat.json"))  # page 1, limit 4
    assert [f["properties"]["source_id"][10:25] for f in second_page["features"]] == [
        "195022_20220110",
        "196022_20220111",
    ]
    assert second_page["properties"] == {"next": "false"}
    tags = second_page["features"][1]["properties"]["tags"]
    assert (
        tags["productType"] == "LC_C02_L1TP" and tags["sunElevation"] == "12.33" and tags["area"] == "Denmark"
    )
    assert second_page["features"][1]["properties"]["data"]["metadata"] is None
    first_page = _collection(await stack.scenes("DenmarkDemoLandsat.json", "?page=0&limit=4"))
    assert len(first_page["features"]) == 4 and first_page["properties"] == {"next": "true"}


async def test_s2_falls_back_to_the_archive_and_refusals_reach_the_client(stack: Stack) -> None:
    stack.remotes.s2_answer = lambda request: Response(503, b"Service Unavailable")
    collection = _collection(await stack.scenes("DenmarkDemoS2.json"))
    assert sorted(f["properties"]["source_id"] for f in collection["features"]) == sorted(stack.archive_ids)
    stack.remotes.s2_answer = lambda request: Response.json({"detail": "Invalid field: cloudCover"}, 400)
    refused = await stack.scenes("DenmarkDemoS2.json")
    assert refused.status_code == 400
    assert "cdse: HTTP 400" in refused.text and "Invalid field: cloudCover" in refused.text


@pytest.mark.parametrize("stack", [{"cdse_token": "s3cr3t-t0ken"}], indirect=True)
async def test_an_authenticated_source_s_error_page_is_not_quoted(stack: Stack) -> None:
    stack.remotes.s2_answer = lambda request: Response(
        400, f"Invalid field; you sent {request.headers}".encode()
    )
    refused = await stack.scenes("DenmarkDemoS2.json")
    assert refused.status_code == 400 and "cdse: HTTP 400 (the answer is not quoted" in refused.text
    assert "s3cr3t-t0ken" not in refused.text and "you sent" not in refused.text
    assert {r.headers.get("authorization") for r in stack.remotes.requests} == {"Bearer s3cr3t-t0ken"}
