"""Reading the metadata of archived products: Sentinel-2 MTD (and manifest), Landsat Collection 2 MTL.

Each reader returns an `ArchivedProduct` with the tags the reference's Copernicus and Landsat catalogues
give (spec §3.2.2, §3.2.4) plus the AutoFill tags, or raises `UnreadableProduct`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import pathlib
import re
import uuid
from collections.abc import Callable
from xml.etree import ElementTree

import shapely
import shapely.affinity
import shapely.errors

from libs.domain import products

logger = logging.getLogger(__name__)

# uuid5 namespace of archived products: the same source id always gets the same uuid, on every host.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "local-archive.geocube-ingester")

# First element of these local names in an S2 MTD (L1C and L2A alike).
_MTD_FIELDS = {"PRODUCT_START_TIME", "PRODUCT_URI", "PRODUCT_TYPE", "Datatake", "SPACECRAFT_NAME",
               "SENSING_ORBIT_NUMBER", "SENSING_ORBIT_DIRECTION", "EXT_POS_LIST", "Cloud_Coverage_Assessment"}  # fmt: skip
# Landsat MTL keys: required ones, and optional ones by the tag they feed (spec §3.2.4 tag names).
_MTL_REQUIRED = {"LANDSAT_PRODUCT_ID", "SPACECRAFT_ID", "PROCESSING_LEVEL", "COLLECTION_NUMBER", "DATE_ACQUIRED",
                 "SCENE_CENTER_TIME", "CLOUD_COVER"}  # fmt: skip
_MTL_REQUIRED |= {f"CORNER_{c}_{axis}_PRODUCT" for c in ("UL", "UR", "LR", "LL") for axis in ("LAT", "LON")}
_MTL_OPTIONAL = {
    "landCloudCoverPercentage": "CLOUD_COVER_LAND",
    "sunAzimuth": "SUN_AZIMUTH",
    "sunElevation": "SUN_ELEVATION",
}



class UnreadableProduct(Exception):
    """The product's metadata is missing or malformed; the scan skips the product."""



@dataclasses.dataclass(frozen=True)
class ArchivedProduct:
    source_id: str
    constellation: products.Constellation
    date: dt.datetime
    footprint: shapely.Geometry  # EPSG:4326, lon/lat
    tags: dict[str, str]
    path: pathlib.Path  # the .SAFE folder, the zip or the Landsat folder (absolute)
    platform: str = ""  # as the metadata spells it: "Sentinel-2A", "LANDSAT_8"
    product_type: str = ""
    cloud_cover: float | None = None
    relative_orbit: int | None = None

    # Cached: a search may turn thousands of products into scenes.
    @functools.cached_property
    def uuid(self) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, self.source_id))

    @functools.cached_property
    def wkt(self) -> str:
        return shapely.to_wkt(self.footprint, rounding_precision=6, trim=True)

    @property
    def download_link(self) -> str:
        return "file://" + self.path.as_posix()



def _first_texts(xml: bytes, wanted: set[str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Text and attributes of the first element of each wanted local name, namespaces ignored."""
    texts: dict[str, str] = {}
    attributes: dict[str, dict[str, str]] = {}
    for element in ElementTree.fromstring(xml).iter():
        name = element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""
        if name in wanted and name not in texts:
            texts[name] = (element.text or "").strip()
            attributes[name] = dict(element.attrib)
    return texts, attributes


def _go_float(text: str) -> str:
    """A number as the reference prints a decoded JSON number (Go %v): shortest form, no trailing .0."""
    value = float(text)
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def read_sentinel2(mtd: bytes, path: pathlib.Path, manifest: Callable[[], bytes | None]) -> ArchivedProduct:
    """`manifest` reads the manifest, only needed when the MTD lacks the datatake id."""
    texts, attributes = _first_texts(mtd, _MTD_FIELDS)
    for required in ("PRODUCT_START_TIME", "EXT_POS_LIST"):
        if not texts.get(required):
            raise UnreadableProduct(f"no {required} in the MTD")
    product_uri = texts.get("PRODUCT_URI", "")
    source_id = product_uri.removesuffix(".SAFE") if product_uri else path.name.split(".")[0]
    if source_id != path.name.split(".")[0]:
        logger.warning("local archive: %s holds %s (named after PRODUCT_URI)", path, source_id)
    if products.constellation_from_product_id(source_id) is not products.Constellation.SENTINEL2:
        raise UnreadableProduct(f"not a Sentinel-2 product name: {source_id}")
    values = [float(v) for v in texts["EXT_POS_LIST"].split()]
    footprint = _footprint(list(zip(values[1::2], values[0::2], strict=False)))  # the list is lat lon pairs
    date = _parse_time(texts["PRODUCT_START_TIME"])
    # The absolute orbit is the third field of the datatake id (GS2A_<sensing>_<orbit>_N<baseline>).
    datatake = attributes.get("Datatake", {}).get("datatakeIdentifier", "").split("_")
    orbit = (
        str(int(datatake[2])) if len(datatake) > 2 and datatake[2].isdigit() else _manifest_orbit(manifest())
    )
    relative = int(texts["SENSING_ORBIT_NUMBER"]) if texts.get("SENSING_ORBIT_NUMBER") else None
    cloud = texts.get("Cloud_Coverage_Assessment")
    tags = {
        "sourceID": source_id,
        "uuid": str(uuid.uuid5(_UUID_NAMESPACE, source_id)),
        "ingestionDate": texts["PRODUCT_START_TIME"],
        "orbitDirection": texts.get("SENSING_ORBIT_DIRECTION", ""),
        "relativeOrbit": "" if relative is None else str(relative),
        "orbit": orbit,
        "productType": texts.get("PRODUCT_TYPE", ""),
    }
    if cloud:
        tags["cloudCoverPercentage"] = _go_float(cloud)
    tags = {key: value for key, value in tags.items() if value}
    tags.update(products.autofill_tags(source_id)[0])
    return ArchivedProduct(
        source_id,
        products.Constellation.SENTINEL2,
        date,
        footprint,
        tags,
        path.absolute(),
        platform=texts.get("SPACECRAFT_NAME", ""),
        product_type=texts.get("PRODUCT_TYPE", ""),
        cloud_cover=float(cloud) if cloud else None,
        relative_orbit=relative,
    )


def _manifest_orbit(manifest: bytes | None) -> str:
    if not manifest:
        return ""
    texts, _ = _first_texts(manifest, {"orbitNumber"})
    return str(int(texts["orbitNumber"])) if texts.get("orbitNumber", "").isdigit() else ""


def read_landsat(mtl: bytes, is_xml: bool, path: pathlib.Path) -> ArchivedProduct:
    keys = _MTL_REQUIRED | set(_MTL_OPTIONAL.values())
    if is_xml:
        values = _first_texts(mtl, keys)[0]
    else:
        # ODL text: `KEY = value` lines in nested groups; the first occurrence is the product's own
        # (later groups repeat LANDSAT_PRODUCT_ID for the Level-1 parent).
        values = {}
        for line in mtl.decode("utf-8", "replace").splitlines():
            key, sep, value = line.partition("=")
            key = key.strip()
            if sep and key in keys and key not in values:
                values[key] = value.strip().strip('"')
    missing = sorted(key for key in _MTL_REQUIRED if not values.get(key))
    if missing:
        raise UnreadableProduct(f"no {', '.join(missing)} in the MTL")
    source_id = values["LANDSAT_PRODUCT_ID"]
    if products.constellation_from_product_id(source_id) is not products.Constellation.LANDSAT89:
        raise UnreadableProduct(f"not a Landsat 8/9 product name: {source_id}")
    corners = [
        (float(values[f"CORNER_{c}_LON_PRODUCT"]), float(values[f"CORNER_{c}_LAT_PRODUCT"]))
        for c in ("UL", "UR", "LR", "LL")
    ]
    date = _parse_time(f"{values['DATE_ACQUIRED']}T{values['SCENE_CENTER_TIME']}")
    product_type = f"{source_id[0:2]}_C{values['COLLECTION_NUMBER']}_{values['PROCESSING_LEVEL']}"
    tags = {
        "sourceID": source_id,
        "productType": product_type,
        "cloudCoverPercentage": _go_float(values["CLOUD_COVER"]),
        "ingestionDate": date.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    for tag, key in _MTL_OPTIONAL.items():
        if values.get(key):
            tags[tag] = _go_float(values[key])
    tags.update(products.autofill_tags(source_id)[0])
    return ArchivedProduct(
        source_id,
        products.Constellation.LANDSAT89,
        date,
        _footprint(corners),
        tags,
        path.absolute(),
        platform=values["SPACECRAFT_ID"],
        product_type=product_type,
        cloud_cover=float(values["CLOUD_COVER"]),
    )


def _parse_time(text: str) -> dt.datetime:
    """RFC 3339 with any number of fraction digits (Landsat writes 7), as an aware UTC datetime."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text.strip())
    if match is None:
        raise UnreadableProduct(f"bad time {text!r}")
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    offset = "+00:00" if match[3] in (None, "Z") else match[3]
    parsed = dt.datetime.fromisoformat(f"{match[1]}.{fraction}{offset}")
    return parsed.astimezone(dt.UTC)


def _footprint(lonlat: list[tuple[float, float]]) -> shapely.Geometry:
    """Polygon from a lon/lat ring; a ring crossing the antimeridian becomes a MultiPolygon split there."""
    if len(lonlat) < 3:
        raise UnreadableProduct("footprint has fewer than 3 points")
    lons = [lon for lon, _ in lonlat]
    if max(lons) - min(lons) > 180:
        # Unwrap to 0..360, then cut at 180 and shift the eastern part back to negative longitudes.
        unwrapped = shapely.Polygon([(lon + 360 if lon < 0 else lon, lat) for lon, lat in lonlat])
        west = unwrapped.intersection(shapely.box(0, -90, 180, 90))
        east = shapely.affinity.translate(unwrapped.intersection(shapely.box(180, -90, 540, 90)), xoff=-360)
        parts = [g for part in (west, east) for g in getattr(part, "geoms", [part]) if g.area > 0]
        return shapely.MultiPolygon(parts)
    polygon = shapely.Polygon(lonlat)
    return polygon if polygon.is_valid else shapely.make_valid(polygon)
