"""STAC Items of indexed layers, built with pystac from what rio-stac reads in the stored files.

One Item per processed tile of a scene (the spatio-temporal unit: one footprint, one date); one asset per
indexed file (dataset), keyed by its layer. Assets carry their own projection and raster fields because
the layers of one tile may differ in grid (Sentinel-2 bands are 10, 20 or 60 m). The item's geometry is
the union of the rasters' footprints in EPSG:4326 (the tile), its datetime the record's (scene) date.
See docs/stac.md for the choices.

`build_item` is the general entry point (also used to publish to other STAC servers); `build_tile_item`
applies the processor's conventions (ids, collection = AOI, Sentinel-2 band names).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import pathlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pystac
import rasterio
import rasterio.errors
import shapely
import shapely.geometry
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterBand, RasterExtension
from rio_stac import stac as rio_stac

from libs.domain import wkt
from libs.domain.models import Tile

# Properties of ours (no published extension): where an item and its assets live in the registry.
RECORD_PROPERTY = "ingester:record_id"
TILE_PROPERTY = "ingester:tile"
INSTANCE_FIELD = "ingester:instance_id"

# Common names of the eo extension for the Sentinel-2 MSI band codes (the ExtractS2Bands layers).
SENTINEL2_COMMON_NAMES = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge",
    "B06": "rededge",
    "B07": "rededge",
    "B08": "nir",
    "B8A": "nir08",
    "B09": "nir09",
    "B10": "cirrus",
    "B11": "swir16",
    "B12": "swir22",
}

# Media types of files rasterio cannot describe, by extension (lower case, without the dot).
_MEDIA_TYPES = {
    "zip": "application/zip",
    "json": pystac.MediaType.JSON,
    "xml": pystac.MediaType.XML,
    "nc": "application/x-netcdf",
    "jp2": pystac.MediaType.JPEG2000,
    "png": pystac.MediaType.PNG,
    "jpg": pystac.MediaType.JPEG,
}
# Statistics are computed on a decimated read: exact enough for display ranges, cheap for big tiles.
_STATS_MAX_SIZE = 512


@dataclasses.dataclass(frozen=True)
class ItemFile:
    """One stored file of an item."""

    key: str  # asset key: the layer
    href: str  # where the file is stored (the dataset's URI)
    local_path: pathlib.Path | None = None  # a readable copy (None: described by its name only)
    instance_id: str = ""  # the registry instance of the dataset
    title: str = ""
    # Linear map from stored to real values (registry dformat): real = stored * scale + offset.
    scale: float | None = None
    offset: float | None = None


@dataclasses.dataclass(frozen=True)
class _Raster:
    footprint: dict[str, Any]
    media_type: str | None
    proj: dict[str, Any]
    bands: list[dict[str, Any]]
    descriptions: list[str]


def _read_raster(path: pathlib.Path) -> _Raster | None:
    """What rio-stac reads from a raster; None when the file is not a georeferenced raster."""
    try:
        with warnings.catch_warnings():
            # rasterio warns on files without georeferencing: they are simply not rasters here.
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                if src.crs is None:
                    return None
                geom = rio_stac.get_dataset_geom(src, densify_pts=0, precision=7)
                proj = rio_stac.get_projection_info(src)
                bands = rio_stac.get_raster_info(src, max_size=_STATS_MAX_SIZE)
                structure = src.tags(ns="IMAGE_STRUCTURE")
                media_type = _raster_media_type(src.driver, structure)
                descriptions = [d or "" for d in src.descriptions]
    except rasterio.errors.RasterioIOError:
        return None
    for band in bands:
        band.pop("histogram", None)  # kilobytes per asset that no client here uses
    return _Raster(geom["footprint"], media_type, proj, bands, descriptions)


def _raster_media_type(driver: str, structure: Mapping[str, str]) -> str | None:
    if driver == "GTiff":
        # GDAL's COG writer marks its layout; titiler and QGIS stream such files by ranges.
        if structure.get("LAYOUT", "").upper() == "COG":
            return pystac.MediaType.COG
        return pystac.MediaType.GEOTIFF
    if driver in ("JP2OpenJPEG", "JPEG2000"):
        return pystac.MediaType.JPEG2000
    return None


def _media_type(href: str) -> str | None:
    name = href.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in ("tif", "tiff"):
        return pystac.MediaType.GEOTIFF
    return _MEDIA_TYPES.get(ext)


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: rio-stac spells nodata as strings, statistics may still carry them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _add_asset(
    item: pystac.Item, file: ItemFile, raster: _Raster | None, common_names: Mapping[str, str]
) -> None:
    media_type = raster.media_type if raster and raster.media_type else _media_type(file.href)
    asset = pystac.Asset(href=file.href, title=file.title or file.key, media_type=media_type, roles=["data"])
    if file.instance_id:
        asset.extra_fields[INSTANCE_FIELD] = file.instance_id
    # Added first: the extensions below declare themselves on the asset's owner.
    item.add_asset(file.key, asset)
    if raster is None:
        return
    proj = raster.proj
    ProjectionExtension.ext(asset, add_if_missing=True).apply(
        code=f"EPSG:{proj['epsg']}" if proj.get("epsg") else None,
        wkt2=proj.get("wkt2"),
        bbox=[float(v) for v in proj["bbox"]],
        shape=list(proj["shape"]),
        transform=[float(v) for v in proj["transform"]],
    )
    bands = []
    for info in raster.bands:
        band = {k: _clean(v) for k, v in info.items()}
        band["statistics"] = {k: _clean(v) for k, v in info.get("statistics", {}).items()}
        if file.scale is not None and file.offset is not None:
            band["scale"], band["offset"] = file.scale, file.offset
        bands.append(RasterBand({k: v for k, v in band.items() if v is not None}))
    RasterExtension.ext(asset, add_if_missing=True).apply(bands)
    eo_bands = []
    for index, description in enumerate(raster.descriptions, start=1):
        name = description or f"b{index}"
        eo_bands.append(Band.create(name=name, common_name=common_names.get(name)))
    if any(b.common_name for b in eo_bands) or any(raster.descriptions):
        # Only named bands say something an eo client can use (a bare `b1` does not).
        EOExtension.ext(asset, add_if_missing=True).apply(bands=eo_bands)


def build_item(
    item_id: str,
    collection: str,
    datetime: dt.datetime,
    files: Sequence[ItemFile],
    properties: Mapping[str, Any] | None = None,
    fallback_geometry_wkt: str = "",
    common_names: Mapping[str, str] | None = None,
) -> pystac.Item:
    """The Item of `files` (read where `local_path` is given; blocking: call it in a thread).

    The geometry is the union of the rasters' footprints, else `fallback_geometry_wkt` (EPSG:4326, e.g.
    the record's footprint), else null. `datetime` must be timezone-aware."""
    if datetime.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    rasters = {f.key: _read_raster(f.local_path) if f.local_path else None for f in files}
    footprints = [shapely.geometry.shape(r.footprint) for r in rasters.values() if r is not None]
    if footprints:
        shape = shapely.union_all(footprints)
    elif fallback_geometry_wkt:
        shape = wkt.from_wkt(fallback_geometry_wkt)
    else:
        shape = None
    geometry = shapely.geometry.mapping(shape) if shape is not None else None
    item = pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=[round(v, 7) for v in shape.bounds] if shape is not None else None,
        datetime=datetime.astimezone(dt.UTC),
        properties=dict(properties or {}),
        collection=collection,
    )
    for file in files:
        _add_asset(item, file, rasters[file.key], common_names or {})
    return item


def tile_item_id(tile: Tile) -> str:
    """`<scene source id>` for a scene processed as one tile, else `<scene>_<tile>`: unique in an AOI."""
    scene = tile.scene.source_id
    return scene if tile.source_id == scene else f"{scene}_{tile.source_id}"


def build_tile_item(tile: Tile, files: Sequence[ItemFile]) -> pystac.Item:
    """The Item of a processed tile: collection = its AOI, datetime = its scene's (record's) date."""
    scene = tile.scene
    properties: dict[str, Any] = {TILE_PROPERTY: tile.source_id}
    if scene.data.record_id:
        properties[RECORD_PROPERTY] = scene.data.record_id
    common_names: Mapping[str, str] = {}
    if scene.source_id.startswith(("S2A_", "S2B_", "S2C_", "S2D_")):
        properties["constellation"] = "sentinel-2"
        properties["platform"] = "sentinel-" + scene.source_id[1:3].lower()
        common_names = SENTINEL2_COMMON_NAMES
    date = scene.data.date if scene.data.date.tzinfo else scene.data.date.replace(tzinfo=dt.UTC)
    return build_item(tile_item_id(tile), scene.aoi, date, files, properties, common_names=common_names)
