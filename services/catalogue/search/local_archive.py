"""The offline scene source: products lying in a folder, searched like an external catalogue.

`scan()` indexes, recursively, Sentinel-2 `.SAFE` folders, zips holding one (`<id>.zip`, `<id>.SAFE.zip`,
read without unzipping: only the MTD and, as a fallback, the manifest are read from the archive) and
Landsat Collection 2 folders (`*_MTL.xml` or `*_MTL.txt`). Scenes carry the tags the reference's
Copernicus and Landsat catalogues give (spec §3.2.2, §3.2.4) plus the AutoFill tags, and
`metadata = {"uuid", "download_link": "file://<product>"}` so the URL provider can serve them too.

Unlike the reference catalogues, no default product type is applied: the folder holds what its owner
put there, and `scene_type.parameters.producttype` narrows it when needed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import pathlib
import re
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from xml.etree import ElementTree

import shapely
import shapely.affinity
import shapely.errors

from services.domain import products
from services.domain.models import Area, CatalogScene, SceneAttrs
from services.runtime.errors import InvalidArgument

logger = logging.getLogger(__name__)

# uuid5 namespace of archived products: the same source id always gets the same uuid, on every host.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "local-archive.geocube-ingester")

_S2_MTD_NAMES = ("MTD_MSIL1C.xml", "MTD_MSIL2A.xml")
# Inside a zip the product folder is the only top-level entry; products zipped flat are accepted too.
_ZIP_S2_MTD = re.compile(r"^(?:[^/]+/)?MTD_MSIL(?:1C|2A)\.xml$")
_ZIP_MANIFEST = re.compile(r"^(?:[^/]+/)?manifest\.safe$")
_ZIP_MTL = re.compile(r"^(?:[^/]+/)?[^/]+_MTL\.(?:xml|txt)$")
_CLOUD_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$")
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


# What reading a product's metadata may raise: the product is skipped, the scan goes on.
_READ_ERRORS = (UnreadableProduct, OSError, ValueError, zipfile.BadZipFile, ElementTree.ParseError)


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


@dataclasses.dataclass(frozen=True)
class ScanStats:
    indexed: int
    parsed: int  # products (re-)read by this scan
    skipped: int  # products whose metadata could not be read
    removed: int


@dataclasses.dataclass(frozen=True)
class _Index:
    """Immutable snapshot swapped in one assignment, so searches never see a half-built index."""

    products: tuple[ArchivedProduct, ...] = ()  # ordered by (date, source_id)
    tree: shapely.STRtree | None = None
    by_id: dict[str, ArchivedProduct] = dataclasses.field(default_factory=dict)


class LocalArchive:
    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root).absolute()
        self._index = _Index()
        # path -> (signature, product or None when unreadable); reused while mtime and size are unchanged.
        self._cache: dict[str, tuple[tuple[int, int], ArchivedProduct | None]] = {}
        self._scan_lock = threading.Lock()

    def scan(self) -> ScanStats:
        """(Re-)index the folder. Blocking (file I/O): call it from a thread in async code."""
        with self._scan_lock:
            seen: set[str] = set()
            parsed = 0
            for kind, path, signature_file in _candidates(self.root):
                key = str(path)
                try:
                    stat = signature_file.stat()
                except OSError:
                    continue  # removed while scanning: dropped from the index below
                seen.add(key)
                signature = (stat.st_mtime_ns, stat.st_size)
                cached = self._cache.get(key)
                if cached is not None and cached[0] == signature:
                    continue
                parsed += 1
                try:
                    self._cache[key] = (signature, _read_product(kind, path, signature_file))
                except _READ_ERRORS as exc:
                    # Name the metadata file when there is one: that is what the operator must fix.
                    logger.warning("local archive: skipping %s: %s", signature_file, exc)
                    self._cache[key] = (signature, None)
            removed = [key for key in self._cache if key not in seen]
            for key in removed:
                del self._cache[key]
            if parsed or removed or self._index.tree is None:
                self._index = _build_index(self._cache.values())
            skipped = sum(1 for _, product in self._cache.values() if product is None)
            stats = ScanStats(len(self._index.products), parsed, skipped, len(removed))
            logger.info("local archive %s: %s", self.root, stats)
            return stats

    def find(self, source_id: str) -> ArchivedProduct | None:
        return self._index.by_id.get(source_id)

    def search(self, area: Area) -> tuple[list[CatalogScene], bool]:
        """Scenes of the area, ordered by date then source id, and whether a next page exists."""
        constellation = products.parse_constellation(area.constellation)
        if constellation is products.Constellation.UNKNOWN:
            raise InvalidArgument(
                "scene_type.constellation", f"unrecognized constellation: {area.constellation}"
            )
        if area.page < 0 or area.limit < 0:
            raise InvalidArgument("page" if area.page < 0 else "limit", "must not be negative")
        filters = _Filters.parse(area.parameters)
        try:
            geometry = shapely.from_wkt(area.geometry_wkt)
        except shapely.errors.ShapelyError as exc:
            raise InvalidArgument("geometry", f"invalid WKT: {exc}") from exc
        if geometry is None or geometry.is_empty:
            raise InvalidArgument("geometry", "empty geometry")
        start, end = _utc(area.start_time), _utc(area.end_time)
        index = self._index
        if index.tree is None:
            return [], False
        hits = sorted(int(i) for i in index.tree.query(geometry, predicate="intersects"))
        found = [
            product
            for product in (index.products[i] for i in hits)
            if product.constellation is constellation
            and start <= product.date <= end
            and filters.accepts(product)
        ]
        if area.limit == 0:
            return [_to_scene(product) for product in found], False
        first = area.page * area.limit
        page = found[first : first + area.limit]
        return [_to_scene(product) for product in page], len(found) > first + area.limit


def _to_scene(product: ArchivedProduct) -> CatalogScene:
    data = SceneAttrs(
        date=product.date, tiles={}, metadata={"uuid": product.uuid, "download_link": product.download_link}
    )
    return CatalogScene(source_id=product.source_id, data=data, tags=dict(product.tags), wkt=product.wkt)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _normalized(name: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", name.upper())


@dataclasses.dataclass(frozen=True)
class _Filters:
    """The `scene_type.parameters` the archive can honour offline (all given ones must hold)."""

    cloud_cover: tuple[float, float] | None = None
    product_type: str | None = None
    relative_orbit: int | None = None
    platform: str | None = None  # normalized
    filename: str | None = None

    @classmethod
    def parse(cls, parameters: dict[str, str]) -> _Filters:
        found: dict[str, Any] = {}
        for raw_key, value in parameters.items():
            key = raw_key.lower()  # the reference matches its parameter names in lower case
            field = f"scene_type.parameters.{key}"
            if key == "cloudcoverpercentage":
                match = _CLOUD_RANGE.match(value.strip())
                try:
                    found["cloud_cover"] = (float(match[1]), float(match[2]))  # type: ignore[index]
                except (TypeError, ValueError):
                    raise InvalidArgument(field, "cloudcoverpercentage must be '[Min TO Max]'") from None
            elif key == "producttype":
                found["product_type"] = value.strip().upper()
            elif key == "relativeorbitnumber":
                try:
                    found["relative_orbit"] = int(value)
                except ValueError:
                    raise InvalidArgument(field, f"relativeorbitnumber must be an integer: {value}") from None
            elif key == "platformname":
                found["platform"] = _normalized(value)
            elif key == "filename":
                found["filename"] = value.replace("*", "")
            else:
                logger.warning("local archive: parameter %r is not supported offline, ignored", raw_key)
        return cls(**found)

    def accepts(self, p: ArchivedProduct) -> bool:
        if self.cloud_cover is not None:
            low, high = self.cloud_cover
            if p.cloud_cover is None or not low <= p.cloud_cover <= high:
                return False
        if self.product_type is not None and p.product_type.upper() != self.product_type:
            return False
        if self.relative_orbit is not None and p.relative_orbit != self.relative_orbit:
            return False
        if self.platform is not None:
            # Copernicus collection names ("SENTINEL-2") and satellite names ("Sentinel-2A", "LANDSAT_8")
            # are accepted alike, whatever the case and separators.
            names = (p.platform, p.tags.get("constellation", ""), p.tags.get("satellite", ""))
            if self.platform not in {_normalized(name) for name in names}:
                return False
        return self.filename is None or self.filename in p.source_id or self.filename in p.path.name


def _build_index(entries: Iterable[tuple[tuple[int, int], ArchivedProduct | None]]) -> _Index:
    by_id: dict[str, ArchivedProduct] = {}
    for _, product in sorted(entries, key=lambda entry: str(entry[1].path) if entry[1] else ""):
        if product is None:
            continue
        kept = by_id.setdefault(product.source_id, product)
        if kept is not product:
            logger.warning(
                "local archive: %s is also in %s, keeping %s", product.source_id, product.path, kept.path
            )
    ordered = tuple(sorted(by_id.values(), key=lambda p: (p.date, p.source_id)))
    tree = shapely.STRtree([p.footprint for p in ordered])
    return _Index(ordered, tree, by_id)


def _candidates(root: pathlib.Path) -> Iterator[tuple[str, pathlib.Path, pathlib.Path]]:
    """(kind, product path, metadata file) for every product under root; the metadata file's mtime and
    size stand for the product's (a zip stands for itself)."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            logger.warning("local archive: cannot list %s: %s", folder, exc)
            continue
        mtl: pathlib.Path | None = None
        for entry in entries:
            path = pathlib.Path(entry.path)
            if entry.is_dir():
                if entry.name.endswith(".SAFE"):
                    mtd = next((path / n for n in _S2_MTD_NAMES if (path / n).is_file()), path)
                    yield "safe", path, mtd  # never descend into a product
                else:
                    pending.append(path)
            elif entry.name.endswith(".zip"):
                yield "zip", path, path
            elif entry.name.endswith(("_MTL.xml", "_MTL.txt")):
                # A Landsat folder holds its MTL twice (XML and ODL text): one product, the XML is read.
                if mtl is None or (entry.name.endswith(".xml") and mtl.name[:-4] == entry.name[:-4]):
                    mtl = path
                elif mtl.name[:-4] != entry.name[:-4]:
                    logger.warning(
                        "local archive: %s holds several Landsat products, only %s is read", folder, mtl
                    )
        if mtl is not None:
            yield "landsat", mtl.parent, mtl


def _read_product(kind: str, path: pathlib.Path, metadata_file: pathlib.Path) -> ArchivedProduct:
    if kind == "safe":
        if metadata_file == path:
            raise UnreadableProduct("no MTD_MSIL1C.xml or MTD_MSIL2A.xml")
        manifest = path / "manifest.safe"
        return _sentinel2(
            metadata_file.read_bytes(), path, lambda: manifest.read_bytes() if manifest.is_file() else None
        )
    if kind == "landsat":
        return _landsat(metadata_file.read_bytes(), metadata_file.suffix == ".xml", path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        mtd_name = next((n for n in names if _ZIP_S2_MTD.match(n)), None)
        if mtd_name is not None:
            manifest_name = next((n for n in names if _ZIP_MANIFEST.match(n)), None)
            return _sentinel2(
                archive.read(mtd_name), path, lambda: archive.read(manifest_name) if manifest_name else None
            )
        mtl_names = sorted((n for n in names if _ZIP_MTL.match(n)), key=lambda n: not n.endswith(".xml"))
        if mtl_names:
            return _landsat(archive.read(mtl_names[0]), mtl_names[0].endswith(".xml"), path)
    raise UnreadableProduct("zip holds no Sentinel-2 MTD nor Landsat MTL")


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


def _sentinel2(mtd: bytes, path: pathlib.Path, manifest: Callable[[], bytes | None]) -> ArchivedProduct:
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
    footprint = _footprint(list(zip(values[1::2], values[0::2])))  # the list is lat lon pairs
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


def _landsat(mtl: bytes, is_xml: bool, path: pathlib.Path) -> ArchivedProduct:
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
