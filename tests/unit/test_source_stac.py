"""The STAC scene sources (pystac-client) against a local STAC API: POST /search answering
ItemCollections with `next` links carrying a POST body, as stac-server (USGS, Earth Search) does."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import shapely
from urllib3.exceptions import ConnectTimeoutError

from gateway.refjson.payload import decode_area
from services.catalogue.payload import ValidArea, for_search
from services.catalogue.search import remote
from services.catalogue.search.stac import StacConfig, StacSource
from libs.domain.products import Constellation
from libs.domain.proto_convert import area_from_proto
from libs.runtime.errors import InvalidArgument, Unavailable
from tests.support.httpserver import LocalHTTPServer, Request, Response

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parents[1] / "shared" / "fixtures"
LANDSAT = json.loads((ROOT / "fixtures" / "sources" / "usgs_landsat_c2l1_denmark.json").read_text())
FAST = remote.HttpOptions(timeout=5.0, retries=0, backoff=0.0)


def payload(
    name: str, parameters: dict[str, str] | None = None, geometry_wkt: str = "", **changes: Any
) -> ValidArea:
    """A reference payload through the gateway's decoder and the catalogue's validation, as sources
    receive it; `parameters` are added to its scene_type's, `geometry_wkt` replaces its geometry."""
    doc = json.loads((SHARED / "reference" / name).read_text())
    doc.update(changes)
    area = area_from_proto(decode_area(json.dumps(doc)))
    area.parameters.update(parameters or {})
    area.geometry_wkt = geometry_wkt or area.geometry_wkt
    return for_search(area)


class Remote:
    """The handler of one server shared by the module; requests are kept before answering."""

    def __init__(self) -> None:
        self.url = ""
        self.answer: Callable[[Request], Response] = lambda request: Response(404)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return self.answer(request)

    def set(self, answer: Callable[[Request], Response]) -> Remote:
        self.answer, self.requests = answer, []
        return self

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(Remote()) as running:
        running.handler.url = running.url  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def api(server: LocalHTTPServer) -> Remote:
    assert isinstance(server.handler, Remote)
    return server.handler.set(lambda request: Response(404))


def stac_search(features: list[dict[str, Any]]) -> Callable[[Request], Response]:
    """POST /search: `limit` items from the position in the body's `next` token, and a next link whose
    body is the request's with the following token (stac-server's `merge: false` style)."""

    def handler(request: Request) -> Response:
        assert request.method == "POST" and request.path.endswith("/search")
        body = json.loads(request.body)
        start, limit = int(body.get("next", 0)), body["limit"]
        page: dict[str, Any] = {"type": "FeatureCollection", "features": features[start : start + limit]}
        page["links"] = [{"rel": "root", "href": "http://stac.invalid/"}]
        if start + limit < len(features):
            next_body = {**body, "next": str(start + limit)}
            page["links"].append(
                {
                    "rel": "next",
                    "href": f"http://{request.headers['host']}{request.path}",
                    "method": "POST",
                    "body": next_body,
                }
            )
        return Response.json(page, **{"Content-Type": "application/geo+json"})

    return handler


def usgs(api: Remote, **changes: Any) -> StacSource:
    config = StacConfig(
        "usgs-stac",
        f"{api.url}/stac-server",
        {Constellation.LANDSAT89: "landsat-c2l1"},
        reference_landsat=True,
        options=FAST,
    )
    return StacSource(StacConfig(**{**config.__dict__, **changes}))


def test_the_landsat_demo_payload_sends_the_reference_query_and_pages(api: Remote) -> None:
    area = payload("DenmarkDemoLandsat.json")  # page 1, limit 4
    scenes, more = usgs(api.set(stac_search(LANDSAT["features"]))).search(area)
    first, second = api.bodies()
    assert api.requests[0].path == "/stac-server/search"
    assert first == {
        "limit": 4,
        "datetime": "2022-01-01T00:00:00.000Z/2022-01-12T23:59:59.999Z",
        "collections": ["landsat-c2l1"],
        "intersects": json.loads(json.dumps(shapely.geometry.mapping(area.geometry))),
        "query": {"platform": {"in": ["LANDSAT_8", "LANDSAT_9"]}, "eo:cloud_cover": {"gte": 0, "lte": 80}},
    }
    assert second == {**first, "next": "4"}
    assert [s.source_id for s in scenes] == [f["id"] for f in LANDSAT["features"][4:6]] and not more
    assert scenes[1].tags == {
        "sourceID": "LC09_L1TP_196022_20220111_20220111_02_T1",
        "productType": "LC_C02_L1TP",
        "cloudCoverPercentage": "3.07",
        "landCloudCoverPercentage": "2.5",
        "ingestionDate": "2022-01-11T10:31:50.1Z",
        "sunAzimuth": "163.68",
        "sunElevation": "12.33",
        "constellation": "LANDSAT",
        "satellite": "LANDSAT09",
    }
    assert scenes[1].data.metadata is None  # as the reference: no product link in USGS STAC
    assert scenes[1].data.date.isoformat() == "2022-01-11T10:31:50.100000+00:00"
    assert scenes[1].wkt.startswith("POLYGON ((8.9 54.3, 11.7 54.5")


def test_limit_0_reads_every_page_and_more_is_told_by_next_links(api: Remote) -> None:
    api.set(stac_search(LANDSAT["features"]))
    scenes, more = usgs(api, page_size=4).search(payload("DenmarkDemoLandsat.json", limit=0, page=0))
    assert len(scenes) == 6 and not more and [b.get("next") for b in api.bodies()] == [None, "4"]
    first_page, more = usgs(api.set(stac_search(LANDSAT["features"]))).search(
        payload("DenmarkDemoLandsat.json", page=0)
    )
    assert len(first_page) == 4 and more and len(api.requests) == 1


def test_filename_is_matched_on_scene_names(api: Remote) -> None:
    area = payload("DenmarkDemoLandsat.json", {"filename": "*_196022_*"}, limit=0, page=0)
    scenes, _ = usgs(api.set(stac_search(LANDSAT["features"]))).search(area)
    assert [s.source_id[10:16] for s in scenes] == ["196022", "196022"]


def test_a_sentinel2_collection_maps_product_names_and_tags(api: Remote) -> None:
    item = json.loads(
        (
            SHARED / "realdata" / "stac" / "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
        ).read_text()
    )
    source = StacSource(
        StacConfig("stac", api.url, {Constellation.SENTINEL2: "sentinel-2-l2a"}, options=FAST)
    )
    footprint = shapely.geometry.shape(item["geometry"])
    area = payload("DenmarkDemoS2.json", {"relativeorbitnumber": "43"}, footprint.buffer(-0.1).wkt)
    api.set(stac_search([item]))
    scenes, more = source.search(area)
    assert not more
    (body,) = api.bodies()
    assert body["collections"] == ["sentinel-2-l2a"]
    assert body["datetime"] == "2022-01-01T00:00:00.000Z/2022-01-12T23:00:00.000Z"
    assert body["query"] == {"eo:cloud_cover": {"gte": 0, "lte": 80}, "sat:relative_orbit": {"eq": 43}}
    assert body["limit"] == 500
    (scene,) = scenes
    assert scene.source_id == "S2B_MSIL2A_20190629T212529_N0212_R043_T06VVN_20201006T080531"
    assert scene.tags == {
        "sourceID": scene.source_id,
        "ingestionDate": "2019-06-29T21:25:29.024000Z",
        "orbitDirection": "DESCENDING",
        "relativeOrbit": "43",
        "orbit": "12081",
        "productType": "S2MSI2A",
        "cloudCoverPercentage": "0.314306",
        "constellation": "SENTINEL2",
        "satellite": "SENTINEL2B",
    }
    assert scene.data.metadata is None  # Planetary Computer items have band assets only


def test_an_older_usgs_item_falls_back_to_eo_sun_angles(api: Remote) -> None:
    item = json.loads(
        (SHARED / "realdata" / "stac" / "LC08_L2SP_047027_20201204_20210313_02_T1_SR_stac.json").read_text()
    )
    scene = usgs(api).to_scene(item, Constellation.LANDSAT89)
    assert scene.source_id == item["id"]
    assert scene.tags["cloudCoverPercentage"] == "1.55" and scene.tags["landCloudCoverPercentage"] == "1.9"
    assert (scene.tags["sunAzimuth"], scene.tags["sunElevation"]) == ("164.91405951", "18.80722985")
    assert "productType" not in scene.tags  # no landsat:correction in that item


def test_bad_cloud_cover_names_the_field(api: Remote) -> None:
    area = payload("DenmarkDemoLandsat.json", {"cloudcoverpercentage": "[0.5 TO 80]"})
    with pytest.raises(InvalidArgument, match="must be integers") as error:
        usgs(api).search(area)
    assert error.value.field == "scene_type.parameters.cloudcoverpercentage" and not api.requests


def test_remote_failures_follow_the_error_table(api: Remote) -> None:
    area = payload("DenmarkDemoLandsat.json")
    api.set(lambda request: Response(502, b"Bad Gateway"))
    with pytest.raises(Unavailable, match=r"^usgs-stac: HTTP 502: Bad Gateway$"):
        usgs(api).search(area)
    api.set(lambda request: Response.json({"code": "BadRequest", "description": "limit must be <= 250"}, 400))
    with pytest.raises(InvalidArgument, match=r"usgs-stac: HTTP 400: .*limit must be <= 250"):
        usgs(api).search(area)
    retried = remote.HttpOptions(timeout=5.0, retries=2, backoff=0.0)
    api.set(lambda request: Response(503, b"busy"))
    with pytest.raises(Unavailable, match="HTTP 503"):
        usgs(api, options=retried).search(area)
    assert len(api.requests) == 3  # POST retried too


def test_an_unreachable_server_is_unavailable(api: Remote) -> None:
    closed = LocalHTTPServer(lambda request: Response(200))
    url = closed.url
    closed._server.server_close()  # bound then closed: nothing listens on that port any more
    source = StacSource(StacConfig("stac", url, {Constellation.SENTINEL2: "sentinel-2-l1c"}, options=FAST))
    with pytest.raises(Unavailable, match=r"^stac: cannot reach the catalogue"):
        source.search(payload("DenmarkDemoS2.json"))


TOKEN = "s3cr3t-t0ken"
WITH_TOKEN = remote.HttpOptions(
    timeout=5.0, retries=0, backoff=0.0, headers={"Authorization": f"Bearer {TOKEN}"}
)


def sentinel2(api: Remote, options: remote.HttpOptions = WITH_TOKEN) -> StacSource:
    return StacSource(
        StacConfig("stac", api.url, {Constellation.SENTINEL2: "sentinel-2-l1c"}, options=options)
    )


def test_a_next_link_to_another_site_is_refused_and_gets_no_token(api: Remote) -> None:
    foreign = Remote().set(lambda request: Response.json({"collections": []}))
    with LocalHTTPServer(foreign) as elsewhere:
        page = {
            "type": "FeatureCollection",
            "features": LANDSAT["features"][:1],
            "links": [
                {"rel": "next", "href": f"{elsewhere.url}/search", "method": "POST", "body": {"next": "1"}}
            ],
        }
        api.set(lambda request: Response.json(page))
        with pytest.raises(
            Unavailable, match=r"^usgs-stac: the next page is on another site \(http://127.0.0.1:\d+\)"
        ):
            usgs(api, options=WITH_TOKEN).search(payload("DenmarkDemoLandsat.json", page=0, limit=0))
        # A search the first page satisfies never gets there: the link only tells that more may follow.
        scenes, more = usgs(api, options=WITH_TOKEN).search(
            payload("DenmarkDemoLandsat.json", page=0, limit=1)
        )
        assert len(scenes) == 1 and more
        # Whatever asks the source's client for another site, the token stays home.
        stac_io = usgs(api, options=WITH_TOKEN)._stac_io()
        try:
            stac_io.request(f"{elsewhere.url}/collections", method="GET")
            stac_io.request(f"{api.url}/collections", method="GET")
        finally:
            stac_io.session.close()
    assert [r.path for r in foreign.requests] == ["/collections"]
    assert "authorization" not in foreign.requests[0].headers
    assert {r.headers["authorization"] for r in api.requests} == {f"Bearer {TOKEN}"}


def test_an_error_page_echoing_the_token_does_not_quote_it(api: Remote) -> None:
    def echo(status: int) -> Callable[[Request], Response]:
        return lambda request: Response(status, f"Bad request; you sent {request.headers}".encode())

    area = payload("DenmarkDemoS2.json")
    with pytest.raises(InvalidArgument, match=r"stac: HTTP 400 \(the answer is not quoted") as refused:
        sentinel2(api.set(echo(400))).search(area)
    assert TOKEN in api.requests[0].headers["authorization"]  # the server did echo it…
    with pytest.raises(Unavailable, match=r"^stac: HTTP 503 \(the answer") as down:
        sentinel2(api.set(echo(503))).search(area)
    for error in (refused.value, down.value):
        assert TOKEN not in str(error) and "you sent" not in str(error)  # …it is not in our errors
    with pytest.raises(InvalidArgument, match="HTTP 400: Bad request; you sent"):  # no credentials: quoted
        sentinel2(api.set(echo(400)), FAST).search(area)


def test_408_is_transient(api: Remote) -> None:
    api.set(lambda request: Response(408, b"Request Timeout"))
    options = remote.HttpOptions(timeout=5.0, retries=1, backoff=0.0)
    with pytest.raises(Unavailable, match=r"^usgs-stac: HTTP 408: Request Timeout$"):
        usgs(api, options=options).search(payload("DenmarkDemoLandsat.json"))
    assert len(api.requests) == 2


@pytest.mark.timeout(60)
def test_retry_after_is_not_waited_out(api: Remote) -> None:
    answers = iter([Response(429, b"slow down", {"Retry-After": "3600"})])
    working = stac_search(LANDSAT["features"])
    api.set(lambda request: next(answers, None) or working(request))
    options = remote.HttpOptions(timeout=5.0, retries=2, backoff=0.0)
    scenes, more = usgs(api, options=options).search(payload("DenmarkDemoLandsat.json", page=0))
    assert len(scenes) == 4 and more and len(api.requests) == 2


def test_retries_wait_as_documented(api: Remote) -> None:
    stac_io = usgs(api, options=remote.HttpOptions(timeout=5.0, retries=3, backoff=2.0))._stac_io()
    try:
        retry = stac_io.session.get_adapter(api.url).max_retries
        waits = []
        for _ in range(3):
            retry = retry.increment(method="POST", url="/search", error=ConnectTimeoutError())
            waits.append(retry.get_backoff_time())
    finally:
        stac_io.session.close()
    assert waits == [2.0, 6.0, 14.0]  # b, 3b, 7b as remote.HttpOptions says (urllib3's own: 0, 4, 8)
    assert not retry.respect_retry_after_header


class _Watched(StacSource):
    """Keeps the clients it makes, so that a test can see they are closed."""

    def __init__(self, config: StacConfig) -> None:
        super().__init__(config)
        self.made: list[Any] = []

    def _stac_io(self) -> Any:
        self.made.append(super()._stac_io())
        return self.made[-1]


def test_each_search_closes_its_client(api: Remote) -> None:
    source = _Watched(usgs(api).config)
    api.set(stac_search(LANDSAT["features"]))
    source.search(payload("DenmarkDemoLandsat.json", page=0))
    api.set(lambda request: Response(502, b"Bad Gateway"))
    with pytest.raises(Unavailable):
        source.search(payload("DenmarkDemoLandsat.json"))
    assert len(source.made) == 2
    for stac_io in source.made:  # a closed requests session has dropped its connection pools
        assert not stac_io.session.get_adapter(api.url).poolmanager.pools
