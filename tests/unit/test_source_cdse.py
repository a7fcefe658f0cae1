"""The CDSE OData scene source against a local HTTP server answering in the documented OData format."""

from __future__ import annotations

import copy
import json
import pathlib
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.refjson.payload import decode_area
from services.catalogue.payload import ValidArea, for_search
from services.catalogue.search import remote
from services.catalogue.search.cdse_odata import CdseODataSource
from services.catalogue.search.inventory import SceneInventory
from libs.domain import products
from libs.domain.proto_convert import area_from_proto
from libs.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable
from tests.support.httpserver import LocalHTTPServer, Request, Response

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parents[1] / "shared" / "fixtures" / "reference"
S1_PRODUCTS = json.loads((ROOT / "fixtures" / "sources" / "cdse_s1_denmark.json").read_text())
S2_PRODUCTS = json.loads((ROOT / "fixtures" / "sources" / "cdse_s2_denmark.json").read_text())
FAST = remote.HttpOptions(timeout=5.0, retries=0, backoff=0.0)

DENMARK_WKT = (
    "MULTIPOLYGON (((10.061230468750068 54.88637695312502, 9.957128906249977 54.87246093750002, "
    "9.903906250000063 54.896630859374994, 9.80625 54.90600585937503, 9.77119140625004 55.059912109375034, "
    "9.78125 55.06904296875001, 9.830371093750015 55.05825195312505, 9.998828125000045 54.986474609374994, "
    "10.05771484375006 54.90791015624998, 10.061230468750068 54.88637695312502)))"
)


def payload(name: str, parameters: dict[str, str] | None = None, **changes: Any) -> ValidArea:
    """A reference payload through the gateway's decoder and the catalogue's validation, as sources
    receive it from `/catalog/scenes`; `parameters` are added to its scene_type's."""
    doc = json.loads((REFERENCE / name).read_text())
    doc.update(changes)
    area = area_from_proto(decode_area(json.dumps(doc)))
    area.parameters.update(parameters or {})
    return for_search(area)


class Remote:
    """The handler of one server shared by the module (a server takes 0.5 s to shut down): each test
    sets what it answers. Requests are kept before answering — `LocalHTTPServer.requests` is appended
    after the response is sent, so a client may be done before it is there."""

    def __init__(self) -> None:
        self.url = ""
        self.answer: Callable[[Request], Response] = lambda request: Response(404)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return self.answer(request)

    def set(self, answer: Callable[[Request], Response]) -> Remote:
        self.answer = answer
        self.requests = []
        return self


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(Remote()) as running:
        running.handler.url = running.url  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def api(server: LocalHTTPServer) -> Remote:
    remote_api = server.handler
    assert isinstance(remote_api, Remote)
    return remote_api.set(lambda request: Response(404))


def odata_server(products_doc: dict[str, Any]) -> Callable[[Request], Response]:
    """Serves `value` sliced by $skip/$top, announcing further pages with `@odata.nextLink` as CDSE does."""
    hits = products_doc["value"]

    def handler(request: Request) -> Response:
        skip, top = int(request.param("$skip", "0")), int(request.param("$top", "20"))
        page: dict[str, Any] = {
            "@odata.context": products_doc["@odata.context"],
            "value": hits[skip : skip + top],
        }
        if skip + top < len(hits):
            query = {key: values[0] for key, values in request.query.items()}
            query["$skip"] = str(skip + top)
            page["@odata.nextLink"] = f"{request.path}?{urllib.parse.urlencode(query)}"
        return Response.json(page)

    return handler


@pytest.fixture
def s1_server(api: Remote) -> Remote:
    return api.set(odata_server(S1_PRODUCTS))


def source(server: Remote, **kwargs: Any) -> CdseODataSource:
    options = kwargs.pop("options", FAST)
    return CdseODataSource(f"{server.url}/odata/v1", "https://download.example/odata/v1", options, **kwargs)


def test_the_s1_demo_payload_sends_the_reference_query(s1_server: Remote) -> None:
    scenes, more = source(s1_server).search(payload("DenmarkDemoS1.json"))
    (request,) = s1_server.requests
    assert request.method == "GET" and request.path == "/odata/v1/Products"
    assert {k: v[0] for k, v in request.query.items() if k != "$filter"} == {
        "$orderby": "ContentDate/Start asc",
        "$top": "1000",
        "$skip": "0",
        "$expand": "Attributes",
    }
    string = "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq '{}' and att/OData.CSC.StringAttribute/Value eq '{}')"
    assert request.query["$filter"] == [
        " and ".join(
            [
                f"OData.CSC.Intersects(area=geography'SRID=4326;{DENMARK_WKT}')",
                "ContentDate/Start gt 2022-01-01T00:00:00.000Z",
                "ContentDate/Start lt 2022-02-10T00:00:00.000Z",
                "Collection/Name eq 'SENTINEL-1'",
                string.format("productType", "SLC"),
                string.format("polarisationChannels", "VV&VH"),
                string.format("operationalMode", "IW"),
                (
                    "Attributes/OData.CSC.IntegerAttribute/any(att:att/Name eq 'relativeOrbitNumber' "
                    "and att/OData.CSC.IntegerAttribute/Value eq 44)"
                ),
            ]
        )
    ]
    assert not more
    assert [s.source_id for s in scenes] == [p["Name"].removesuffix(".SAFE") for p in S1_PRODUCTS["value"]]
    first = scenes[-1]
    assert first.tags == {
        "sourceID": "S1A_IW_SLC__1SDV_20220204T170123_20220204T170150_041766_04F863_D5BE",
        "uuid": "d82774b2-b84a-4a90-a499-94e68f92abeb",
        "ingestionDate": "2022-02-04T17:01:23.133Z",
        "orbitDirection": "ASCENDING",
        "relativeOrbit": "44",
        "orbit": "41766",
        "productType": "SLC",
        "polarisationMode": "VV&VH",
        "sliceNumber": "17",
        "constellation": "SENTINEL1",
        "satellite": "SENTINEL1A",
    }
    assert first.data.metadata == {
        "uuid": "d82774b2-b84a-4a90-a499-94e68f92abeb",
        "download_link": "https://download.example/odata/v1/Products(d82774b2-b84a-4a90-a499-94e68f92abeb)/$value",
        "size": 7993320077,
        "checksum": {
            "md5": "3b44d7346a9e8c2e59487f8a9cb86a33",
            "blake3": "3b44d7346a9e8c2e59487f8a9cb86a33" * 2,
        },
    }
    assert first.data.date.isoformat() == "2022-02-04T17:01:23.133000+00:00"
    assert first.wkt.startswith("POLYGON ((9.198432 54.109722, 13.150673 54.52261")


def test_s2_parameters_cloud_cover_and_filename_with_quotes(s1_server: Remote) -> None:
    area = payload("DenmarkDemoS2.json", {"filename": "*T32U'NF*"})
    source(s1_server).search(area)
    clauses = s1_server.requests[0].query["$filter"][0].split(" and Attributes")
    assert clauses[0].endswith("Collection/Name eq 'SENTINEL-2'")
    double = "/OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and att/OData.CSC.DoubleAttribute/Value {}"
    assert clauses[1:] == [
        "/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')",
        double.format("ge 0.00)"),
        double.format("le 80.00) and contains(Name,'T32U''NF')"),
    ]


def test_s2_tags_and_paging_through_next_links(api: Remote) -> None:
    scenes, more = source(api.set(odata_server(S2_PRODUCTS)), page_size=3).search(
        payload("DenmarkDemoS2.json")
    )
    assert [r.param("$skip") for r in api.requests] == ["0", "3"]
    assert [r.param("$top") for r in api.requests] == ["3", "3"]
    assert len(scenes) == 4 and not more  # limit 0: every page, the reference stops after the first
    assert scenes[1].tags == {
        "sourceID": "S2B_MSIL1C_20220105T103329_N0301_R108_T32UNG_20220105T113002",
        "uuid": "0a8f7a0e-6c5c-4c1e-9c52-5a1b8a3c0002",
        "ingestionDate": "2022-01-05T10:33:29.024Z",
        "orbitDirection": "DESCENDING",
        "relativeOrbit": "108",
        "orbit": "25160",
        "productType": "S2MSI1C",
        "cloudCoverPercentage": "12.5",
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2B",
    }
    assert scenes[3].tags["cloudCoverPercentage"] == "0"


def test_a_full_page_without_next_link_asks_for_the_next_one(api: Remote) -> None:
    def handler(request: Request) -> Response:
        skip, top = int(request.param("$skip", "0")), int(request.param("$top", "0"))
        return Response.json({"value": S2_PRODUCTS["value"][skip : skip + top]})

    scenes, _ = source(api.set(handler), page_size=2).search(payload("DenmarkDemoS2.json"))
    assert len(scenes) == 4
    assert [r.param("$skip") for r in api.requests] == ["0", "2", "4"]


def test_page_and_limit_become_top_and_skip(s1_server: Remote) -> None:
    scenes, more = source(s1_server).search(payload("DenmarkDemoS1.json", page=1, limit=1))
    assert [(r.param("$top"), r.param("$skip")) for r in s1_server.requests] == [("1", "1")]
    assert [s.source_id[17:25] for s in scenes] == ["20220123"] and more
    last, more = source(s1_server).search(payload("DenmarkDemoS1.json", page=1, limit=2))
    assert [s.source_id[17:25] for s in last] == ["20220204"] and not more


def test_limit_0_is_bounded(s1_server: Remote) -> None:
    with pytest.raises(InvalidArgument, match="more than 2 scenes match") as error:
        source(s1_server, max_scenes=2).search(payload("DenmarkDemoS1.json"))
    assert error.value.field == "limit"


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"cloudcoverpercentage": "0-80"}, "scene_type.parameters.cloudcoverpercentage"),
        ({"cloudcoverpercentage": "[80 TO 10]"}, "scene_type.parameters.cloudcoverpercentage"),
        ({"relativeorbitnumber": "44a"}, "scene_type.parameters.relativeorbitnumber"),
    ],
)
def test_bad_payload_values_name_the_field(s1_server: Remote, parameters: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        source(s1_server).search(
            payload("DenmarkDemoS1.json", scene_type={"constellation": "sentinel1", "parameters": parameters})
        )
    assert error.value.field == field
    assert not s1_server.requests


def test_missing_required_attribute_is_an_error_naming_it(api: Remote) -> None:
    broken = copy.deepcopy(S1_PRODUCTS)
    broken["value"][0]["Attributes"] = [
        a for a in broken["value"][0]["Attributes"] if a["Name"] != "orbitNumber"
    ]
    with pytest.raises(Unavailable, match="orbitNumber"):
        source(api.set(odata_server(broken))).search(payload("DenmarkDemoS1.json"))


def test_server_errors_are_retried_then_unavailable(api: Remote) -> None:
    api.set(lambda request: Response(503, b"<html>maintenance</html>"))
    options = remote.HttpOptions(timeout=5.0, retries=2, backoff=0.0)
    with pytest.raises(Unavailable, match=r"^cdse: HTTP 503: <html>maintenance</html>$"):
        source(api, options=options).search(payload("DenmarkDemoS1.json"))
    assert len(api.requests) == 3


def test_client_errors_are_not_retried(api: Remote) -> None:
    refusal = {"detail": {"message": "Invalid filter: unknown attribute"}}
    api.set(lambda request: Response.json(refusal, status=400))
    options = remote.HttpOptions(timeout=5.0, retries=3, backoff=0.0)
    with pytest.raises(InvalidArgument, match=r"HTTP 400: .*Invalid filter: unknown attribute") as error:
        source(api, options=options).search(payload("DenmarkDemoS1.json"))
    assert error.value.field == "scene_type.parameters" and len(api.requests) == 1
    api.set(lambda request: Response(403, b"Forbidden"))
    with pytest.raises(FailedPrecondition, match=r"cdse: HTTP 403: Forbidden .*credentials"):
        source(api).search(payload("DenmarkDemoS1.json"))


def test_a_timeout_is_unavailable(api: Remote) -> None:
    release = threading.Event()

    def stalled(request: Request) -> Response:
        release.wait(10)  # answers only once the test is over
        return Response.json({"value": []})

    try:
        with pytest.raises(Unavailable, match=r"^cdse: no answer within 0.2 s$"):
            source(api.set(stalled), options=remote.HttpOptions(timeout=0.2, retries=0)).search(
                payload("DenmarkDemoS1.json")
            )
    finally:
        release.set()


def test_the_inventory_falls_back_to_the_next_source(api: Remote) -> None:
    working = odata_server(S1_PRODUCTS)
    api.set(lambda request: Response(500, b"boom") if request.path.startswith("/down/") else working(request))
    down = CdseODataSource(f"{api.url}/down/odata/v1", "https://download.example/odata/v1", FAST)
    inventory = SceneInventory({products.Constellation.SENTINEL1: [down, source(api)]})
    scenes, _ = inventory.search(payload("DenmarkDemoS1.json"))
    assert [r.path for r in api.requests] == ["/down/odata/v1/Products", "/odata/v1/Products"]
    assert len(scenes) == 3
    assert all(s.tags["area"] == "Denmark" and s.aoi == "DenmarkDemo" for s in scenes)
    both_down = SceneInventory({products.Constellation.SENTINEL1: [down, down]})
    with pytest.raises(Unavailable, match=r"^ScenesInventory: cdse: HTTP 500: boom\n cdse: HTTP 500: boom$"):
        both_down.search(payload("DenmarkDemoS1.json"))


TOKEN = "s3cr3t-t0ken"
WITH_TOKEN = remote.HttpOptions(
    timeout=5.0, retries=0, backoff=0.0, headers={"Authorization": f"Bearer {TOKEN}"}
)


def test_a_next_link_to_another_site_is_refused_and_gets_no_token(api: Remote) -> None:
    foreign = Remote()
    with LocalHTTPServer(foreign) as elsewhere:
        page = {
            "value": S1_PRODUCTS["value"][:1],
            "@odata.nextLink": f"{elsewhere.url}/odata/v1/Products?$skip=1",
        }
        api.set(lambda request: Response.json(page))
        with pytest.raises(
            Unavailable, match=r"^cdse: the next page is on another site \(http://127.0.0.1:\d+\)"
        ):
            source(api, options=WITH_TOKEN).search(payload("DenmarkDemoS1.json"))
        # A search the first page satisfies never gets there: the link only tells that more may follow.
        scenes, more = source(api, options=WITH_TOKEN).search(payload("DenmarkDemoS1.json", page=0, limit=1))
        assert len(scenes) == 1 and more
    assert not foreign.requests
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}


def test_an_error_page_echoing_the_token_does_not_quote_it(api: Remote) -> None:
    def echo(status: int) -> Callable[[Request], Response]:
        return lambda request: Response(status, f"Bad request; you sent {request.headers}".encode())

    with pytest.raises(InvalidArgument, match=r"cdse: HTTP 400 \(the answer is not quoted") as refused:
        source(api.set(echo(400)), options=WITH_TOKEN).search(payload("DenmarkDemoS1.json"))
    assert TOKEN in api.requests[0].headers["authorization"]  # the server did echo it…
    with pytest.raises(Unavailable, match=r"^cdse: HTTP 503 \(the answer") as down:
        source(api.set(echo(503)), options=WITH_TOKEN).search(payload("DenmarkDemoS1.json"))
    for error in (refused.value, down.value):
        assert TOKEN not in str(error) and "you sent" not in str(error)  # …it is not in our errors
    with pytest.raises(InvalidArgument, match="HTTP 400: Bad request; you sent"):  # no credentials: quoted
        source(api.set(echo(400))).search(payload("DenmarkDemoS1.json"))


def test_408_is_transient(api: Remote) -> None:
    api.set(lambda request: Response(408, b"Request Timeout"))
    options = remote.HttpOptions(timeout=5.0, retries=1, backoff=0.0)
    with pytest.raises(Unavailable, match=r"^cdse: HTTP 408: Request Timeout$"):
        source(api, options=options).search(payload("DenmarkDemoS1.json"))
    assert len(api.requests) == 2


@pytest.mark.timeout(60)
def test_retry_after_is_not_waited_out(api: Remote) -> None:
    answers = iter([Response(429, b"slow down", {"Retry-After": "3600"})])
    working = odata_server(S1_PRODUCTS)
    api.set(lambda request: next(answers, None) or working(request))
    options = remote.HttpOptions(timeout=5.0, retries=2, backoff=0.0)
    scenes, _ = source(api, options=options).search(payload("DenmarkDemoS1.json"))
    assert len(scenes) == 3 and len(api.requests) == 2


def test_the_back_off_schedule() -> None:
    assert [remote.backoff_delay(2.0, retry) for retry in (1, 2, 3)] == [2.0, 6.0, 14.0]
