"""What a catalogue source records on a scene is what the download providers read: the CDSE OData
source's metadata (uuid, link, size, checksums) and a STAC asset's multihash become a ProductRequest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from services.catalogue.search.cdse_odata import CdseODataSource
from libs.domain import models
from libs.domain.products import Constellation
from services.downloader.providers.product import ProductRequest, parse_checksums

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def test_cdse_scene_metadata_feeds_the_download_request():
    hit = json.loads((FIXTURES / "cdse_s2_denmark.json").read_text())["value"][0]
    source = CdseODataSource("http://127.0.0.1:9/odata/v1", "http://127.0.0.1:9/download/odata/v1")
    catalog_scene = source.to_scene(hit, Constellation.SENTINEL2)
    scene = models.Scene(id=1, source_id=catalog_scene.source_id, aoi="a", data=catalog_scene.data)
    request = ProductRequest.from_scene(scene)
    assert request.uuid == hit["Id"]
    assert request.download_link == f"http://127.0.0.1:9/download/odata/v1/Products({hit['Id']})/$value"
    assert request.size == hit["ContentLength"]
    assert request.checksums == {c["Algorithm"]: c["Value"] for c in hit["Checksum"]}


def test_checksum_forms():
    digest = hashlib.md5(b"x", usedforsecurity=False).hexdigest()
    sha = hashlib.sha256(b"x").hexdigest()
    assert parse_checksums({"md5": digest.upper()}) == {"MD5": digest}
    assert parse_checksums([{"Algorithm": "MD5", "Value": digest}]) == {"MD5": digest}
    # STAC file:checksum multihashes: <code><length><digest>; a wrong length is no checksum at all.
    assert parse_checksums({"multihash": "d50110" + digest}) == {"MD5": digest}
    assert parse_checksums({"multihash": "1220" + sha}) == {"SHA256": sha}
    assert parse_checksums({"multihash": "1221" + sha}) == {}
    assert parse_checksums({"multihash": "ff20" + sha}) == {}
    assert parse_checksums(None) == {}
