"""Scenes from a STAC API (`POST <url>/search`) through pystac-client: the USGS Landsat Collection 2
Level-1 server as the reference queries it (spec §3.2.4), and any configured endpoint and collection
for Sentinel-2 (Earth Search `sentinel-2-l1c` / `sentinel-2-c1-l1c`, CDSE STAC) or Sentinel-1.

Items become scenes named as the rest of the system names products: the `.SAFE` name without its
suffix for Sentinel (`s2:product_uri`, else the item id), the Landsat product id (the item id). Tags
follow the reference's Landsat provider and, for Sentinel, its Copernicus one from the `sat:`, `eo:`
and `s1:`/`s2:` properties.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import requests
import shapely
import shapely.geometry
from pystac_client.exceptions import APIError
from pystac_client.item_search import ItemSearch
from pystac_client.stac_api_io import StacApiIO

from services.catalogue.payload import ValidArea
from libs.http import origins
from services.catalogue.search import remote
from libs.domain import models, products
from libs.domain.products import Constellation
from libs.runtime.errors import InvalidArgument, Unavailable

logger = logging.getLogger(__name__)
# pystac-client logs each prepared request with its headers at DEBUG, Authorization included: never
# below INFO, whatever the process's log level.
logging.getLogger("pystac_client").setLevel(max(logging.INFO, logging.getLogger("pystac_client").level))

# pystac-client refuses larger pages.
_MAX_PAGE = 10000
# Asset keys holding the whole product, in the order tried, for `metadata.download_link`.
_PRODUCT_ASSETS = ("product", "Product", "PRODUCT", "zip")


@dataclasses.dataclass(frozen=True)
class StacConfig:
    name: str  # the source name in settings and error messages, e.g. "usgs-stac"
    url: str  # API root; items are searched at <url>/search
    collections: dict[Constellation, str]
    # The reference's Landsat query: whole days (start 00:00:00.000, end 23:59:59.999) and only
    # LANDSAT_8/LANDSAT_9 platforms.
    reference_landsat: bool = False
    options: remote.HttpOptions = dataclasses.field(default_factory=remote.HttpOptions)
    page_size: int = 500
    max_scenes: int = 10000


def search_parameters(config: StacConfig, valid: ValidArea) -> dict[str, Any]:
    """The keyword arguments of `ItemSearch` (POST body) for the payload."""
    area, constellation, geometry = valid.area, valid.constellation, valid.geometry
    if config.reference_landsat:
        # date().isoformat(), not strftime: the zero time's year prints as 0001.
        start, end = area.start_time.date().isoformat(), area.end_time.date().isoformat()
        interval = f"{start}T00:00:00.000Z/{end}T23:59:59.999Z"
    else:
        interval = f"{remote.utc_millis(area.start_time)}/{remote.utc_millis(area.end_time)}"
    query: dict[str, Any] = {}
    if config.reference_landsat:
        query["platform"] = {"in": ["LANDSAT_8", "LANDSAT_9"]}
    for raw_key, value in area.parameters.items():
        key = raw_key.lower()
        field = f"scene_type.parameters.{key}"
        if key == "cloudcoverpercentage":
            low, high = remote.cloud_range(value, field)
            if config.reference_landsat and not (low.is_integer() and high.is_integer()):
                raise InvalidArgument(field, f"cloudcoverpercentage values must be integers: {value}")
            query["eo:cloud_cover"] = {"gte": _number(low), "lte": _number(high)}
        elif key == "relativeorbitnumber":
            query["sat:relative_orbit"] = {"eq": remote.integer(value, field)}
        elif key == "platformname" and not config.reference_landsat:
            query["platform"] = {"eq": value}
        elif key != "filename":  # filename is matched on the scene names (see StacSource.search)
            logger.warning("%s: parameter %r is not supported, ignored", config.name, raw_key)
    parameters: dict[str, Any] = {
        "collections": [config.collections[constellation]],
        "intersects": shapely.geometry.mapping(geometry),
        "datetime": interval,
        "limit": min(area.limit or config.page_size, config.page_size, _MAX_PAGE),
    }
    if query:
        parameters["query"] = query
    return parameters


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


class StacSource:
    """`search(area)` posts to `<url>/search` and follows `next` links on the origin of `url` only;
    blocking (run in a thread)."""

    def __init__(self, config: StacConfig):
        self.config = config
        self.name = config.name

    def search(self, valid: ValidArea) -> tuple[list[models.CatalogScene], bool]:
        area, constellation = valid.area, valid.constellation
        if constellation not in self.config.collections:
            raise InvalidArgument(
                "scene_type.constellation", f"{self.name} has no collection for {constellation.value}"
            )
        wanted = next((v for k, v in area.parameters.items() if k.lower() == "filename"), "")
        wanted = wanted.replace("*", "")
        stac_io = self._stac_io()
        try:
            search = ItemSearch(
                f"{self.config.url.rstrip('/')}/search",
                method="POST",
                stac_io=stac_io,
                **search_parameters(self.config, valid),
            )
            pages = (
                ([self.to_scene(f, constellation) for f in page], more) for page, more in self._pages(search)
            )
            return remote.take(
                pages,
                area.page * area.limit,
                area.limit,
                self.config.max_scenes,
                self.name,
                keep=lambda scene: wanted in scene.source_id,
            )
        finally:
            stac_io.session.close()

    def _stac_io(self) -> StacApiIO:
        """pystac-client's client on our session: its timeouts, proxies, redirect rule and the search
        retry policy (network errors and RETRIED_STATUSES, POST included, b, 3b, 7b, no Retry-After); the
        last answer is returned, not raised, so its status reaches the error table."""
        options = self.config.options
        # No session headers: pystac-client would send them with every `next` href, whatever its host.
        stac_io = StacApiIO(timeout=options.timeout, max_retries=None, request_modifier=self._authorize)
        stac_io.session.close()
        stac_io.session = options.session()
        return stac_io

    def _authorize(self, request: requests.Request) -> None:
        """Adds the credentials to requests for the configured origin only (the session drops the
        Authorization header on redirects to another origin: libs.http.origins)."""
        if self.config.options.headers and origins.same_origin(str(request.url), self.config.url):
            request.headers = {**(request.headers or {}), **self.config.options.headers}

    def _pages(self, search: ItemSearch) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """(items, whether a next link follows) per page; remote failures become our errors. A next link
        to another origin is refused (not followed): the chain's next source serves."""
        pages = search.pages_as_dicts()
        credentials = bool(self.config.options.headers)
        next_href: str | None = None
        while True:
            if next_href is not None and not origins.same_origin(next_href, self.config.url):
                raise Unavailable(
                    f"{self.name}: the next page is on another site ({origins.origin(next_href)}): "
                    "not followed"
                )
            try:
                page = next(pages)
            except StopIteration:
                return
            except APIError as exc:
                status = getattr(exc, "status_code", None)
                if status is None:  # no answer at all: network error or timeout
                    raise Unavailable(
                        f"{self.name}: cannot reach the catalogue: {remote.remote_text(str(exc))}"
                    ) from None
                raise remote.http_error(self.name, status, str(exc), credentials) from None
            except ValueError as exc:  # an answer that is not JSON
                raise Unavailable(f"{self.name}: unexpected answer: {remote.remote_text(str(exc))}") from None
            features = [f for f in page.get("features") or [] if isinstance(f, dict)]
            # The link pystac-client follows: the first `next` one.
            link = next(
                (x for x in page.get("links") or [] if isinstance(x, dict) and x.get("rel") == "next"), None
            )
            next_href = urllib.parse.urljoin(search.url, str(link.get("href") or "")) if link else None
            yield features, link is not None

    def to_scene(self, item: dict[str, Any], constellation: Constellation) -> models.CatalogScene:
        props = item.get("properties") or {}
        source_id = scene_id(item, constellation)
        when = str(props.get("datetime") or props.get("start_datetime") or "")
        try:
            date = dt.datetime.fromisoformat(when)
        except ValueError:
            raise Unavailable(f"{self.name}: item {item.get('id')}: invalid datetime {when!r}") from None
        if constellation is Constellation.LANDSAT89:
            tags, metadata = landsat_tags(source_id, props), None
        else:
            tags, metadata = sentinel_tags(source_id, props, constellation), _product_asset(item)
        tags = {key: value for key, value in tags.items() if value}
        tags.update(products.autofill_tags(source_id)[0])
        wkt = ""
        if isinstance(item.get("geometry"), dict):
            try:
                wkt = shapely.geometry.shape(item["geometry"]).wkt
            except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError):
                logger.warning("%s: item %s has an unreadable geometry", self.name, item.get("id"))
        data = models.SceneAttrs(date=date, tiles={}, metadata=metadata)
        return models.CatalogScene(source_id=source_id, data=data, tags=tags, wkt=wkt)


def scene_id(item: dict[str, Any], constellation: Constellation) -> str:
    props = item.get("properties") or {}
    identifier = str(item.get("id", ""))
    if constellation is Constellation.LANDSAT89:
        return identifier
    uri = props.get("s2:product_uri") or ""
    return str(uri or identifier).removesuffix(".SAFE").removesuffix(".zip")


def landsat_tags(source_id: str, props: dict[str, Any]) -> dict[str, str]:
    """The reference's Landsat tags; the sun angles fall back to the older `eo:` names."""
    product_type = ""
    if props.get("landsat:collection_number") and props.get("landsat:correction"):
        product_type = f"{source_id[0:2]}_C{props['landsat:collection_number']}_{props['landsat:correction']}"
    return {
        "sourceID": source_id,
        "productType": product_type,
        "cloudCoverPercentage": _value(props, "eo:cloud_cover"),
        "landCloudCoverPercentage": _value(props, "landsat:cloud_cover_land"),
        "ingestionDate": _value(props, "datetime"),
        "sunAzimuth": _value(props, "view:sun_azimuth", "eo:sun_azimuth"),
        "sunElevation": _value(props, "view:sun_elevation", "eo:sun_elevation"),
    }


def sentinel_tags(source_id: str, props: dict[str, Any], constellation: Constellation) -> dict[str, str]:
    """The reference's Copernicus tags, from the STAC `sat:`, `eo:`, `sar:` and `s1:`/`s2:` fields."""
    tags = {
        "sourceID": source_id,
        "ingestionDate": _value(props, "datetime", "start_datetime"),
        "orbitDirection": _value(props, "sat:orbit_state").upper(),
        "relativeOrbit": _value(props, "sat:relative_orbit"),
        "orbit": _value(props, "sat:absolute_orbit"),
        "productType": _value(
            props, "product:type", "s2:product_type", "s1:product_type", "sar:product_type"
        ),
    }
    datatake = str(props.get("s2:datatake_id", "")).split("_")
    if not tags["orbit"] and len(datatake) > 2 and datatake[2].isdigit():
        # Items without `sat:absolute_orbit` (Planetary Computer): GS2B_<sensing>_<orbit>_N<baseline>.
        tags["orbit"] = str(int(datatake[2]))
    if constellation is Constellation.SENTINEL1:
        polarizations = props.get("sar:polarizations")
        if isinstance(polarizations, list):
            tags["polarisationMode"] = "&".join(str(p) for p in polarizations)
        tags["sliceNumber"] = _value(props, "s1:slice_number")
    else:
        tags["cloudCoverPercentage"] = _value(props, "eo:cloud_cover")
    return tags


def _value(props: dict[str, Any], *keys: str) -> str:
    for key in keys:
        if props.get(key) is not None:
            return remote.go_value(props[key])
    return ""


def _product_asset(item: dict[str, Any]) -> dict[str, Any] | None:
    """`download_link` (+ `size`, `checksum` from the file extension) when an asset holds the product."""
    assets = item.get("assets") or {}
    for key in _PRODUCT_ASSETS:
        asset = assets.get(key)
        if isinstance(asset, dict) and asset.get("href"):
            metadata: dict[str, Any] = {models.METADATA_DOWNLOAD_LINK: str(asset["href"])}
            if isinstance(asset.get("file:size"), int):
                metadata[models.METADATA_SIZE] = asset["file:size"]
            if asset.get("file:checksum"):
                # A multihash (hex): the algorithm code is its first byte, e.g. 0xd5 = md5.
                metadata[models.METADATA_CHECKSUMS] = {"multihash": str(asset["file:checksum"])}
            return metadata
    return None
