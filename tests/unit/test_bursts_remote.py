"""Annotation files read from remote places through their real protocols: a loopback HTTP server (zips
with Range requests, unzipped .SAFE folders through their manifest) and moto's S3 server (s3:// and gs://
zips). The bursts must be those of the local fixtures, and a zip must cost far less than its size."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from services.catalogue.bursts import annotations, inventory
from services.catalogue.bursts.annotations import RemoteAccess
from libs.runtime.errors import InvalidArgument, NotFound, Unavailable
from tests.support.httpserver import LocalHTTPServer, Request, Response, serve_bytes

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "s1"
SCENE = "S1A_IW_SLC__1SDV_20250406T022008_20250406T022035_058630_07421F_93A7"
SAFE = FIXTURES / f"{SCENE}.SAFE"
MEASUREMENT_BYTES = 16 << 20  # stands for the product's GB of rasters: must not be transferred


def product_zip() -> bytes:
    """The fixture product zipped as ESA ships it: annotations, manifest and a big stored measurement."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SAFE / "manifest.safe", f"{SCENE}.SAFE/manifest.safe", zipfile.ZIP_DEFLATED)
        for xml in sorted(SAFE.glob("annotation/*.xml")):
            archive.write(xml, f"{SCENE}.SAFE/annotation/{xml.name}", zipfile.ZIP_DEFLATED)
        archive.writestr(f"{SCENE}.SAFE/measurement/s1a-iw1-slc-vv.tiff", b"\x07" * MEASUREMENT_BYTES)
    return buffer.getvalue()


def local_files() -> list[tuple[str, bytes]]:
    return [
        (f"{SCENE}.SAFE/annotation/{p.name}", p.read_bytes()) for p in sorted(SAFE.glob("annotation/s1*.xml"))
    ]


def served_manifest() -> bytes:
    """The fixture's manifest without the entries of files the fixture does not carry (4 of 6 annotations
    are kept in ../shared), so the remote folder is a consistent product."""
    text = (SAFE / "manifest.safe").read_text()
    for href in re.findall(r'href="\./(annotation/[^"]+)"', text):
        if not (SAFE / href).exists():
            text = re.sub(r'<dataObject [^>]*>\s*<byteStream[^>]*>\s*<fileLocation[^>]*href="\./'
                          + re.escape(href) + r'"/>.*?</dataObject>', "", text, flags=re.DOTALL)  # fmt: skip
    return text.encode()


def read(patterns: list[str], **access: object) -> annotations.AnnotationFiles:
    """read_annotations with the places' origins allowed, as GEOCUBE_CATALOGUE_ANNOTATIONS_ALLOWED_ORIGINS
    would (payload places are refused otherwise, see test_payload_places_must_be_allowed)."""
    origins = tuple(annotations.origin_of(p) for p in patterns)
    return annotations.read_annotations(
        SCENE, "aoi", patterns, RemoteAccess(allowed_origins=origins, **access)
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def zipped() -> bytes:
    return product_zip()


def test_http_zip_is_read_with_ranges_not_whole(zipped):
    with LocalHTTPServer(lambda r: serve_bytes(r, zipped)) as server:
        found = read([server.url + "/products/{SCENE}.SAFE.zip"])
        assert [(Path(n).name, d) for n, d in found.files] == [(Path(n).name, d) for n, d in local_files()]
        assert all("range" in r.headers for r in server.requests)
        # Central directory + four ~1 MB deflated members, not the 16 MB measurement.
        assert server.bytes_sent < len(zipped) / 4


def test_http_zip_from_a_server_ignoring_range_still_gives_the_files(zipped):
    with LocalHTTPServer(lambda r: Response(200, zipped)) as server:
        found = read([server.url + "/{SCENE}.zip"])
    assert [d for _, d in found.files] == [d for _, d in local_files()]


def safe_folder_handler(manifest: bytes, corrupt: str = "") -> tuple[list[Request], object]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        relative = request.path.removeprefix(f"/safe/{SCENE}.SAFE/")
        if relative == "manifest.safe":
            return serve_bytes(request, manifest)
        path = SAFE / relative
        if relative.startswith("annotation/") and path.is_file():
            data = path.read_bytes()
            return serve_bytes(request, data[:-10] + b"x" * 10 if corrupt and corrupt in relative else data)
        return Response(404, b"not here")

    return seen, handler


def test_http_safe_folder_is_read_through_its_manifest_with_md5_checks():
    seen, handler = safe_folder_handler(served_manifest())
    with LocalHTTPServer(handler) as server:
        found = read([server.url + "/safe/{SCENE}.SAFE"])
    assert [(Path(n).name, d) for n, d in found.files] == [(Path(n).name, d) for n, d in local_files()]
    # Product annotations only: the manifest's calibration/noise/rfi entries are never fetched.
    fetched = sorted(r.path.rsplit("/", 2)[-2] for r in seen)
    assert set(fetched) == {f"{SCENE}.SAFE", "annotation"}


def test_a_file_differing_from_the_manifest_md5_is_transient():
    _, handler = safe_folder_handler(served_manifest(), corrupt="iw2")
    with LocalHTTPServer(handler) as server, pytest.raises(Unavailable, match=r"iw2-slc-vv.*MD5 differs"):
        read([server.url + "/safe/{SCENE}.SAFE/"])


def test_bearer_token_from_settings_is_sent(zipped):
    with LocalHTTPServer(
        lambda r: (
            serve_bytes(r, zipped) if r.headers.get("authorization") == "Bearer s3cret" else Response(401)
        )
    ) as server:
        assert read([server.url + "/{SCENE}.zip"], bearer_token="s3cret").files
        with pytest.raises(NotFound) as err:
            read([server.url + "/{SCENE}.zip"])
    assert "s3cret" not in str(err.value)
    assert f"{server.url}/{SCENE}.zip" in str(err.value)


def test_missing_and_failing_places_are_named_and_classified(zipped):
    def handler(request: Request) -> Response:
        if request.path.startswith("/down/"):
            return Response(503, b"maintenance")
        if request.path.startswith("/ok/"):
            return serve_bytes(request, zipped)
        return Response(404, b"no such product")

    with LocalHTTPServer(handler) as server:
        with pytest.raises(NotFound, match=rf"tried: {re.escape(server.url)}/gone/{SCENE}\.zip"):
            read([server.url + "/gone/{SCENE}.zip"])
        # A place that may answer later makes the whole lookup retryable (503 to the client)...
        with pytest.raises(Unavailable, match="/down/"):
            read([server.url + "/gone/{SCENE}.zip", server.url + "/down/{SCENE}.zip"])
        # ...unless a later place answers.
        found = read([server.url + "/down/{SCENE}.zip", server.url + "/ok/{SCENE}.zip"])
    assert found.location == f"{server.url}/ok/{SCENE}.zip"


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_object_store_zip_gives_the_local_bursts(s3_endpoint, zipped, scheme):
    bucket = s3_endpoint.new_bucket()
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key=f"2025/04/{SCENE}.SAFE.zip", Body=zipped)
    client.close()
    found = read([f"{scheme}://{bucket}/{{YEAR}}/{{MONTH}}/{{SCENE}}.SAFE.zip"], store=s3_endpoint.config())
    assert [d for _, d in found.files] == [d for _, d in local_files()]
    with pytest.raises(NotFound, match=f"{scheme}://{bucket}/{SCENE}.zip"):
        read([f"{scheme}://{bucket}/{{SCENE}}.zip"], store=s3_endpoint.config())


def test_inventory_over_http_equals_the_local_inventory(zipped):
    from services.catalogue import payload
    from libs.domain import models

    area = payload.for_tiling(
        models.Area(name="aoi", geometry_wkt="POLYGON((-140 40, -110 40, -110 60, -140 60, -140 40))")
    )

    def scenes() -> list[models.CatalogScene]:
        return [
            models.CatalogScene(
                source_id=SCENE, aoi="aoi", tags={"orbitDirection": "ASCENDING", "relativeOrbit": "108"}
            )
        ]

    local = inventory.burst_inventory(area, scenes(), [str(FIXTURES / "{SCENE}.SAFE")])
    with LocalHTTPServer(lambda r: serve_bytes(r, zipped)) as server:
        pattern = server.url + "/{SCENE}.zip"
        remote = inventory.burst_inventory(area, scenes(), [pattern], access=RemoteAccess(trusted=(pattern,)))
    assert [(t.source_id, t.wkt, t.data.tile_nr) for t in remote[0].tiles] == [
        (t.source_id, t.wkt, t.data.tile_nr) for t in local[0].tiles
    ]
    assert len(remote[0].tiles) > 0


def test_payload_places_must_be_allowed(zipped):
    """Payload patterns reach remote places only on allowed origins (or those of the catalogue's own
    patterns): our token never goes to a host a client chose, and no request is even made."""
    with LocalHTTPServer(lambda r: serve_bytes(r, zipped)) as server:
        payload = [server.url + "/{SCENE}.zip"]
        with pytest.raises(
            InvalidArgument, match=r"127\.0\.0\.1:\d+ is not an annotation place of this catalogue"
        ):
            annotations.read_annotations(SCENE, "aoi", payload, RemoteAccess(bearer_token="s3cret"))
        assert server.requests == []
        # The same host as one of the catalogue's own patterns is allowed, with the token.
        own = RemoteAccess(bearer_token="s3cret", trusted=(server.url + "/other/{SCENE}.zip",))
        assert annotations.read_annotations(SCENE, "aoi", payload, own).files
        assert {r.headers.get("authorization") for r in server.requests} == {"Bearer s3cret"}


def test_a_tiny_remote_object_is_not_a_zip_and_the_next_place_is_tried(zipped):
    def handler(request: Request) -> Response:
        return serve_bytes(request, b"tiny" if request.path.startswith("/tiny/") else zipped)

    with LocalHTTPServer(handler) as server:
        with pytest.raises(NotFound, match=r"/tiny/.*BadZipFile"):
            read([server.url + "/tiny/{SCENE}.zip"])
        assert read([server.url + "/tiny/{SCENE}.zip", server.url + "/ok/{SCENE}.zip"]).files


def test_origins_compare_with_default_ports_written_out_and_case_folded():
    assert annotations.origin_of("HTTPS://Host:443/a/{SCENE}.zip") == "https://host:443"
    assert annotations.origin_of("https://host/a") == "https://host:443"
    assert annotations.origin_of("http://host:80/x") == "http://host:80"
    assert annotations.origin_of("http://host:8080/x") == "http://host:8080"
    assert annotations.origin_of("s3://Bucket/key") == "s3://bucket"
    assert annotations.origin_of("/local/path") == ""
    access = RemoteAccess(allowed_origins=("https://host",))
    assert access.allows("https://host:443/{SCENE}.zip", "https://host:443/S1A.zip")
    assert not access.allows("https://other/{SCENE}.zip", "https://other/S1A.zip")
