"""A demo archive: realistic Sentinel-2 L1C products over the DenmarkDemoS2 area, written offline.

The products follow the real `.SAFE` layout and naming (manifest.safe, MTD_MSIL1C.xml, GRANULE/<granule>/
MTD_TL.xml and IMG_DATA/T32UNF_<sensing>_Bxx.jp2), so the local archive, the local provider and the
S2 graphs treat them exactly like downloaded products. Only the rasters are small (`band_size` pixels
a side for every band) and synthetic (land, sea and clouds in plausible L1C reflectances).

The first four products are the acquisitions of the DenmarkDemoS2 payload period (2022-01-02, 04, 07,
09); larger archives cycle over every pass of 2022-01-01..12 and both tiles over the area (32UNF, 32UNG),
then re-issue them with later processing times: different discriminators, so distinct source ids.
Output is deterministic for a given (count, band_size, seed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import pathlib
import shutil
import zipfile

import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform

from libs.demo import safe_xml

TILE_SIZE_M = 109_800.0  # every Sentinel-2 tile is 109.8 km a side
EPSG = 32632  # UTM zone 32N, the zone of Denmark's Jutland
# Upper-left corners (UTM 32N) of the two MGRS tiles covering the DenmarkDemoS2 area.
TILES = {"32UNF": (499_980.0, 6_100_020.0), "32UNG": (499_980.0, 6_200_040.0)}


@dataclasses.dataclass(frozen=True)
class _Pass:
    sensing: dt.datetime
    satellite: str
    relative_orbit: int


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=dt.UTC)


# Sentinel-2 passes over Denmark (descending, mid-morning). A and B fly the same 143 relative orbits five
# days apart, so orbit R has A on day d and B on day d+5. The first four are the demo payload's scenes.
_PASSES = (
    _Pass(_utc(2022, 1, 2, 10, 36, 29, 24000), "S2B", 8),
    _Pass(_utc(2022, 1, 4, 10, 34, 21, 24000), "S2A", 108),
    _Pass(_utc(2022, 1, 7, 10, 36, 29, 24000), "S2A", 8),
    _Pass(_utc(2022, 1, 9, 10, 34, 19, 24000), "S2B", 108),
    _Pass(_utc(2022, 1, 1, 10, 53, 51, 24000), "S2A", 65),
    _Pass(_utc(2022, 1, 6, 10, 53, 49, 24000), "S2B", 65),
    _Pass(_utc(2022, 1, 11, 10, 53, 51, 24000), "S2A", 65),
    _Pass(_utc(2022, 1, 12, 10, 36, 31, 24000), "S2B", 8),
)
# Processing delay of the first issue of a product (the example id's 10:34:21 -> 12:35:07).
_PROCESSING_DELAY = dt.timedelta(hours=2, minutes=0, seconds=46)

# Anchors of the absolute orbit counters (real: S2A orbit 32448 started 2021-09-08T04:27); 14.3 orbits a
# day; the relative orbit is the absolute one modulo 143 with a per-satellite offset.
_ORBIT_ANCHOR = _utc(2021, 9, 8, 4, 27, 1)
_ORBITS = {"S2A": (32_448, 2), "S2B": (32_448 - 8_915, -27)}

# Typical January L1C reflectances (x10000) of land, sea and thick cloud, per band.
_REFLECTANCE = {
    "B01": (1700, 1500, 5500), "B02": (1400, 1100, 5300), "B03": (1200, 800, 5200),
    "B04": (1100, 550, 5200), "B05": (1300, 450, 5300), "B06": (1700, 350, 5400),
    "B07": (1900, 320, 5500), "B08": (2100, 280, 5500), "B8A": (2200, 250, 5500),
    "B09": (700, 100, 2500), "B10": (15, 8, 600), "B11": (1700, 120, 3800), "B12": (1100, 80, 2600),
}  # fmt: skip


def _absolute_orbit(p: _Pass) -> int:
    base, offset = _ORBITS[p.satellite]
    estimate = base + round((p.sensing - _ORBIT_ANCHOR).total_seconds() / 86400 * 14.3)
    # Closest orbit number whose relative orbit is the pass's: (abs + offset) % 143 + 1 == relative.
    shift = (p.relative_orbit - 1 - (estimate + offset)) % 143
    return estimate + shift if shift <= 71 else estimate + shift - 143


def _footprint(ulx: float, uly: float) -> tuple[tuple[float, float], ...]:
    xs = [ulx, ulx + TILE_SIZE_M, ulx + TILE_SIZE_M, ulx, ulx]
    ys = [uly, uly, uly - TILE_SIZE_M, uly - TILE_SIZE_M, uly]
    lons, lats = warp_transform(f"EPSG:{EPSG}", "EPSG:4326", xs, ys)
    return tuple((lat, lon) for lon, lat in zip(lons, lats, strict=True))


def _plan(index: int, band_size: int, seed: int) -> tuple[safe_xml.ProductFacts, int]:
    """Facts of the index-th product and the key of its acquisition (same pass and tile = same pixels)."""
    p = _PASSES[index % len(_PASSES)]
    tile = list(TILES)[(index // len(_PASSES)) % len(TILES)]
    reissue = index // (len(_PASSES) * len(TILES))
    acquisition = index % (len(_PASSES) * len(TILES))
    generation = (p.sensing + _PROCESSING_DELAY + dt.timedelta(minutes=7 * reissue)).replace(microsecond=0)
    rng = np.random.default_rng([seed, acquisition])
    cloud = round(float(rng.uniform(0.0, 75.0)), 4)
    source_id = f"{p.satellite}_MSIL1C_{p.sensing:%Y%m%dT%H%M%S}_N0301_R{p.relative_orbit:03d}_T{tile}_{generation:%Y%m%dT%H%M%S}"
    ulx, uly = TILES[tile]
    facts = safe_xml.ProductFacts(
        source_id=source_id,
        satellite=p.satellite,
        sensing=p.sensing,
        generation=generation,
        relative_orbit=p.relative_orbit,
        absolute_orbit=_absolute_orbit(p),
        tile=tile,
        epsg=EPSG,
        ulx=ulx,
        uly=uly,
        pixel_size=TILE_SIZE_M / band_size,
        band_size=band_size,
        footprint_latlon=_footprint(ulx, uly),
        cloud_cover=cloud,
    )
    return facts, acquisition


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Values in [0, 1] varying smoothly over the tile: a coarse random grid, bilinearly upsampled."""
    coarse = rng.random((cells, cells))
    axis = np.linspace(0, cells - 1, size)
    rows = np.array([np.interp(axis, np.arange(cells), line) for line in coarse])
    return np.array([np.interp(axis, np.arange(cells), column) for column in rows.T]).T


def _scene_masks(seed: int, acquisition: int, size: int, cloud_cover: float) -> tuple[np.ndarray, np.ndarray]:
    """Land and cloud masks shared by every band of an acquisition (the sea is the same for all)."""
    land = _smooth_field(np.random.default_rng([seed]), size, 6) > 0.45
    field = _smooth_field(np.random.default_rng([seed, acquisition, 1]), size, 8)
    cloud = field >= np.quantile(field, 1 - cloud_cover / 100) if cloud_cover > 0 else np.zeros_like(land)
    return land, cloud


def _band_pixels(band: str, land: np.ndarray, cloud: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    land_value, sea_value, cloud_value = _REFLECTANCE[band]
    values = np.where(cloud, cloud_value, np.where(land, land_value, sea_value)).astype(np.float64)
    values *= rng.normal(1.0, 0.04, values.shape)  # texture
    # 0 is NODATA and 65535 SATURATED in L1C products: valid pixels stay in between.
    return np.clip(values, 1, 65534).astype(np.uint16)


def _encode_jp2(pixels: np.ndarray, facts: safe_xml.ProductFacts) -> bytes:
    size = pixels.shape[0]
    profile = {
        "driver": "JP2OpenJPEG",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint16",
        "crs": f"EPSG:{facts.epsg}",
        "transform": Affine(facts.pixel_size, 0, facts.ulx, 0, -facts.pixel_size, facts.uly),
        "nodata": 0,
        "QUALITY": 100,
        "REVERSIBLE": "YES",
    }
    with MemoryFile(ext=".jp2") as memory:
        with memory.open(**profile) as dataset:
            dataset.write(pixels, 1)
        return memory.read()


# JPEG 2000 cannot hold a nodata value: GDAL keeps it in a PAM sidecar, which is written next to each band.
_NODATA_SIDECAR = b'<PAMDataset>\n  <PAMRasterBand band="1">\n    <NoDataValue>0</NoDataValue>\n  </PAMRasterBand>\n</PAMDataset>\n'


def _product_files(facts: safe_xml.ProductFacts, bands: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """(path inside the .SAFE folder, content) of every file of the product, manifest last."""
    files = [("MTD_MSIL1C.xml", safe_xml.product_mtd(facts))]
    files.append((f"GRANULE/{facts.granule}/MTD_TL.xml", safe_xml.tile_mtd(facts)))
    for band, _, *_ in safe_xml.BANDS:
        files.append((facts.image_file(band) + ".jp2", bands[band]))
        files.append((facts.image_file(band) + ".jp2.aux.xml", _NODATA_SIDECAR))
    listed = [(path, len(data), hashlib.sha3_256(data).hexdigest()) for path, data in files]
    files.append(("manifest.safe", safe_xml.manifest(facts, listed)))
    return files


def _write_zip(target: pathlib.Path, facts: safe_xml.ProductFacts, files: list[tuple[str, bytes]]) -> None:
    partial = target.with_name(target.name + ".part")
    stamp = facts.generation.timetuple()[:6]  # fixed entry times: same inputs, same bytes
    with zipfile.ZipFile(partial, "w") as archive:
        for path, data in files:
            info = zipfile.ZipInfo(f"{facts.source_id}.SAFE/{path}", date_time=stamp)
            # JPEG 2000 is already compressed; XML shrinks well.
            info.compress_type = zipfile.ZIP_STORED if path.endswith(".jp2") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    os.replace(partial, target)  # a concurrent scan never sees half a zip


def _write_folder(target: pathlib.Path, files: list[tuple[str, bytes]]) -> None:
    partial = target.with_name("." + target.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    for path, data in files:
        destination = partial / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def build_demo_archive(
    root: pathlib.Path, count: int = 4, band_size: int = 128, zipped: bool = True, seed: int = 0
) -> list[str]:
    """Write `count` Sentinel-2 L1C products into `root` (`<id>.zip` holding `<id>.SAFE/`, or `<id>.SAFE`
    folders when not zipped); returns their source ids. Existing products of the same ids are replaced."""
    if count < 0 or band_size < 1:
        raise ValueError("count must be >= 0 and band_size >= 1")
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # Bands are encoded once per acquisition: re-issues of an acquisition share its pixels, as real
    # reprocessings of the same data take do.
    encoded: dict[int, dict[str, bytes]] = {}
    source_ids = []
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        for index in range(count):
            facts, acquisition = _plan(index, band_size, seed)
            if acquisition not in encoded:
                land, cloud = _scene_masks(seed, acquisition, band_size, facts.cloud_cover)
                rng = np.random.default_rng([seed, acquisition, 2])
                encoded[acquisition] = {
                    band: _encode_jp2(_band_pixels(band, land, cloud, rng), facts)
                    for band, *_ in safe_xml.BANDS
                }
            files = _product_files(facts, encoded[acquisition])
            if zipped:
                _write_zip(root / f"{facts.source_id}.zip", facts, files)
            else:
                _write_folder(root / f"{facts.source_id}.SAFE", files)
            source_ids.append(facts.source_id)
    return source_ids
