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
import logging
import os
import pathlib
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any
from xml.etree import ElementTree

import shapely
import shapely.affinity

from services.catalogue.payload import ValidArea
from services.catalogue.search.product_metadata import (
    ArchivedProduct,
    UnreadableProduct,
    read_landsat,
    read_sentinel2,
)
from libs.domain import products
from libs.domain.models import CatalogScene, SceneAttrs
from libs.runtime.errors import InvalidArgument

logger = logging.getLogger(__name__)

_S2_MTD_NAMES = ("MTD_MSIL1C.xml", "MTD_MSIL2A.xml")
# Inside a zip the product folder is the only top-level entry; products zipped flat are accepted too.
_ZIP_S2_MTD = re.compile(r"^(?:[^/]+/)?MTD_MSIL(?:1C|2A)\.xml$")
_ZIP_MANIFEST = re.compile(r"^(?:[^/]+/)?manifest\.safe$")
_ZIP_MTL = re.compile(r"^(?:[^/]+/)?[^/]+_MTL\.(?:xml|txt)$")
_CLOUD_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$")
# What reading a product's metadata may raise: the product is skipped, the scan goes on.
_READ_ERRORS = (UnreadableProduct, OSError, ValueError, zipfile.BadZipFile, ElementTree.ParseError)


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

    def holds(self, constellation: products.Constellation) -> bool:
        return any(p.constellation is constellation for p in self._index.products)

    def find(self, source_id: str) -> ArchivedProduct | None:
        return self._index.by_id.get(source_id)

    def search(self, valid: ValidArea) -> tuple[list[CatalogScene], bool]:
        """Scenes of the area, ordered by date then source id, and whether a next page exists."""
        area, constellation, geometry = valid.area, valid.constellation, valid.geometry
        filters = _Filters.parse(area.parameters)
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
        return read_sentinel2(
            metadata_file.read_bytes(), path, lambda: manifest.read_bytes() if manifest.is_file() else None
        )
    if kind == "landsat":
        return read_landsat(metadata_file.read_bytes(), metadata_file.suffix == ".xml", path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        mtd_name = next((n for n in names if _ZIP_S2_MTD.match(n)), None)
        if mtd_name is not None:
            manifest_name = next((n for n in names if _ZIP_MANIFEST.match(n)), None)
            return read_sentinel2(
                archive.read(mtd_name), path, lambda: archive.read(manifest_name) if manifest_name else None
            )
        mtl_names = sorted((n for n in names if _ZIP_MTL.match(n)), key=lambda n: not n.endswith(".xml"))
        if mtl_names:
            return read_landsat(archive.read(mtl_names[0]), mtl_names[0].endswith(".xml"), path)
    raise UnreadableProduct("zip holds no Sentinel-2 MTD nor Landsat MTL")


