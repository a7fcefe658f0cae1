"""Sentinel-1 and Sentinel-2 scenes from the Copernicus Data Space Ecosystem OData catalogue
(`<url>/Products`), the reference's Copernicus provider (spec §3.2.2).

The query is the reference's: `$filter` on the collection, the acquisition start, the AOI
(`OData.CSC.Intersects`) and the product attributes, `$orderby=ContentDate/Start`, `$top`/`$skip` from
the payload's page/limit and `$expand=Attributes`. Scenes carry the reference's tags plus, in
`data.metadata`, what the downloader needs: `uuid` (the product Id), `download_link` (the OData
`$value` URL), `size` (bytes) and `checksum` (algorithm in lower case → hex value, e.g. md5, blake3).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import requests
import shapely
import shapely.geometry

from services.catalogue.payload import ValidArea
from libs.http import origins
from services.catalogue.search import remote
from libs.domain import models, products
from libs.domain.products import Constellation
from libs.runtime.errors import InvalidArgument, Unavailable

logger = logging.getLogger(__name__)

NAME = "cdse"
SUPPORTED = (Constellation.SENTINEL1, Constellation.SENTINEL2)
# CDSE refuses URLs beyond about 8 KB; a longer AOI is sent as its convex hull (the inventory then keeps
# only the scenes that intersect the real AOI).
_MAX_WKT = 4000
_DEFAULTS = {
    Constellation.SENTINEL1: {
        "platformname": "SENTINEL-1",
        "producttype": "SLC",
        "polarisationmode": "VV VH",
        "sensoroperationalmode": "IW",
    },
    Constellation.SENTINEL2: {"platformname": "SENTINEL-2", "producttype": "S2MSI1C"},
}
# Without these the scene cannot be tagged like the reference's (it errors on them too).
_REQUIRED_ATTRIBUTES = ("relativeOrbitNumber", "orbitNumber", "productType")


def _literal(value: str) -> str:
    """An OData string literal: quotes doubled (the reference pasted values verbatim)."""
    return "'" + value.replace("'", "''") + "'"


def _attribute(kind: str, name: str, op: str, value: str) -> str:
    return (
        f"Attributes/OData.CSC.{kind}Attribute/any(att:att/Name eq '{name}' "
        f"and att/OData.CSC.{kind}Attribute/Value {op} {value})"
    )


def build_filter(valid: ValidArea) -> str:
    """The `$filter` expression for the payload, clauses in the reference's order."""
    area, constellation, geometry = valid.area, valid.constellation, valid.geometry
    wkt = shapely.to_wkt(geometry, rounding_precision=-1)
    if len(wkt) > _MAX_WKT:
        wkt = shapely.to_wkt(geometry.convex_hull, rounding_precision=-1)
    clauses = [
        f"OData.CSC.Intersects(area=geography'SRID=4326;{wkt}')",
        f"ContentDate/Start gt {remote.utc_millis(area.start_time)}",
        f"ContentDate/Start lt {remote.utc_millis(area.end_time)}",
    ]
    parameters = {**_DEFAULTS[constellation], **{k.lower(): v for k, v in area.parameters.items()}}
    for key, value in parameters.items():
        field = f"scene_type.parameters.{key}"
        if key == "platformname":
            clauses.append(f"Collection/Name eq {_literal(value)}")
        elif key == "producttype":
            clauses.append(_attribute("String", "productType", "eq", _literal(value)))
        elif key == "polarisationmode":
            # The catalogue writes dual polarisations `VV&VH`; payloads use the SciHub form `VV VH`.
            clauses.append(
                _attribute("String", "polarisationChannels", "eq", _literal(value.replace(" ", "&", 1)))
            )
        elif key == "sensoroperationalmode":
            clauses.append(_attribute("String", "operationalMode", "eq", _literal(value)))
        elif key == "cloudcoverpercentage":
            low, high = remote.cloud_range(value, field)
            clauses.append(_attribute("Double", "cloudCover", "ge", f"{low:.2f}"))
            clauses.append(_attribute("Double", "cloudCover", "le", f"{high:.2f}"))
        elif key == "relativeorbitnumber":
            orbit = remote.integer(value, field)
            clauses.append(_attribute("Integer", "relativeOrbitNumber", "eq", str(orbit)))
        elif key == "filename":
            clauses.append(f"contains(Name,{_literal(value.replace('*', ''))})")
        else:
            # The reference pastes unknown keys into the filter; we leave them out (compatibility.md).
            logger.warning("%s: parameter %r is not supported, ignored", NAME, key)
    return " and ".join(clauses)


class CdseODataSource:
    """`search(area)` pages through `<url>/Products` (`@odata.nextLink` only on the origin of `url`);
    blocking (the catalogue calls it in a thread)."""

    name = NAME

    def __init__(
        self,
        url: str,
        download_url: str,
        options: remote.HttpOptions | None = None,
        page_size: int = 1000,
        max_scenes: int = 10000,
    ):
        self.url = url.rstrip("/")
        self.download_url = download_url.rstrip("/")
        self.options = options or remote.HttpOptions()
        self.page_size = page_size
        self.max_scenes = max_scenes

    def search(self, valid: ValidArea) -> tuple[list[models.CatalogScene], bool]:
        area, constellation = valid.area, valid.constellation
        if constellation not in SUPPORTED:
            raise InvalidArgument("scene_type.constellation", f"{NAME} has no {constellation.value} scenes")
        query = {
            "$filter": build_filter(valid),
            "$orderby": "ContentDate/Start asc",
            "$top": str(min(area.limit, self.page_size) if area.limit else self.page_size),
            "$skip": str(area.page * area.limit),
            "$expand": "Attributes",
        }
        with self.options.session() as session:
            hits, more = remote.take(self._pages(session, query), 0, area.limit, self.max_scenes, NAME)
        return [self.to_scene(hit, constellation) for hit in hits], more

    def _pages(self, session: requests.Session, query: dict[str, str]) -> Iterator[tuple[list[Any], bool]]:
        url: str | None = f"{self.url}/Products?" + urllib.parse.urlencode(
            query, quote_via=urllib.parse.quote
        )
        while url:
            if not origins.same_origin(url, self.url):
                # A next link elsewhere would receive our headers (the bearer token): refused, so the
                # next source in the chain serves.
                raise Unavailable(
                    f"{NAME}: the next page is on another site ({origins.origin(url)}): not followed"
                )
            # Where this page starts and its size, as its URL asks (a next link carries its own).
            asked = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            skip = int((asked.get("$skip") or ["0"])[0])
            top = int((asked.get("$top") or [query["$top"]])[0])
            document = remote.get_json(session, url, NAME, self.options)
            hits = document.get("value") if isinstance(document, dict) else None
            if not isinstance(hits, list):
                raise Unavailable(f"{NAME}: unexpected answer (no `value` list)")
            next_link = document.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                url = urllib.parse.urljoin(url, next_link)
            elif len(hits) == top:
                # A full page without a next link: the service may not announce pages; ask for the next.
                url = f"{self.url}/Products?" + urllib.parse.urlencode(
                    {**query, "$skip": str(skip + top), "$top": str(top)}, quote_via=urllib.parse.quote
                )
            else:
                url = None
            yield hits, url is not None

    def to_scene(self, hit: dict[str, Any], constellation: Constellation) -> models.CatalogScene:
        name = str(hit.get("Name", ""))
        source_id = name.removesuffix(".SAFE")
        attributes = {
            a.get("Name"): a.get("Value") for a in hit.get("Attributes") or [] if isinstance(a, dict)
        }
        for required in _REQUIRED_ATTRIBUTES:
            if attributes.get(required) is None:
                raise Unavailable(f"{NAME}: missing attribute {required} in results ({name})")
        start = str((hit.get("ContentDate") or {}).get("Start", ""))
        try:
            date = dt.datetime.fromisoformat(start)
        except ValueError:
            raise Unavailable(f"{NAME}: {name}: invalid ContentDate.Start {start!r}") from None
        uuid = str(hit.get("Id", ""))
        tags = {
            "sourceID": source_id,
            "uuid": uuid,
            "ingestionDate": start,
            "orbitDirection": remote.go_value(attributes.get("orbitDirection", "")),
            "relativeOrbit": remote.go_value(attributes["relativeOrbitNumber"]),
            "orbit": remote.go_value(attributes["orbitNumber"]),
            "productType": remote.go_value(attributes["productType"]),
        }
        if constellation is Constellation.SENTINEL1:
            tags["polarisationMode"] = remote.go_value(attributes.get("polarisationChannels", ""))
            tags["sliceNumber"] = remote.go_value(attributes.get("sliceNumber", ""))
        elif "cloudCover" in attributes:
            tags["cloudCoverPercentage"] = remote.go_value(attributes["cloudCover"])
        tags.update(products.autofill_tags(source_id)[0])
        metadata: dict[str, Any] = {
            models.METADATA_UUID: uuid,
            models.METADATA_DOWNLOAD_LINK: f"{self.download_url}/Products({uuid})/$value",
        }
        if isinstance(hit.get("ContentLength"), int):
            metadata[models.METADATA_SIZE] = hit["ContentLength"]
        checksums = {
            str(c["Algorithm"]).lower(): str(c["Value"])
            for c in hit.get("Checksum") or []
            if isinstance(c, dict) and c.get("Algorithm") and c.get("Value")
        }
        if checksums:
            metadata[models.METADATA_CHECKSUMS] = checksums
        data = models.SceneAttrs(date=date, tiles={}, metadata=metadata)
        return models.CatalogScene(source_id=source_id, data=data, tags=tags, wkt=_footprint(hit))


def _footprint(hit: dict[str, Any]) -> str:
    """The scene WKT from `GeoFootprint` (GeoJSON), else from `Footprint` (`geography'SRID=4326;…'`)."""
    try:
        if isinstance(hit.get("GeoFootprint"), dict):
            return str(shapely.geometry.shape(hit["GeoFootprint"]).wkt)
        text = str(hit.get("Footprint") or "")
        if ";" in text:
            return str(shapely.from_wkt(text.split(";", 1)[1].rstrip("'")).wkt)
    except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError):
        logger.warning("%s: %s has an unreadable footprint", NAME, hit.get("Name"))
    return ""
