"""Writing Cloud-Optimized GeoTIFFs for the library's python steps (extract_s2.py, convert.py).

GDAL's COG driver does the layout (IFDs first, overviews' data before the full resolution's, ghost
area); this module only fixes the options every step uses and makes the write atomic, so that a killed
step never leaves a half-written file under the name the graph uploads.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator, Mapping
from xml.sax.saxutils import escape

import rasterio
import rasterio.shutil
from rasterio.io import DatasetReader

BLOCK_SIZE = 512
# DEFLATE is read by every GeoTIFF reader (GDAL builds without zstd, browsers' geotiff.js); a graph can
# ask for ZSTD (faster, similar ratio) through its `cog_compress` config key.
DEFAULT_COMPRESS = "DEFLATE"
COMPRESSIONS = ("NONE", "DEFLATE", "ZSTD", "LZW", "LZMA")
_PREDICTED = frozenset({"DEFLATE", "ZSTD", "LZW", "LZMA"})


class CogError(Exception):
    """A COG cannot be written with these parameters (retrying cannot help)."""


def creation_options(compress: str = DEFAULT_COMPRESS, dtype: str = "uint16") -> dict[str, str]:
    """COG driver options: 512 tiles, overviews recomputed with AVERAGE (nodata-aware, unlike the
    JPEG 2000 wavelet levels GDAL would otherwise reuse), compression on every core."""
    compress = compress.upper()
    if compress not in COMPRESSIONS:
        raise CogError(f"unknown compression {compress} (expected one of {', '.join(COMPRESSIONS)})")
    options = {
        "BLOCKSIZE": str(BLOCK_SIZE),
        "COMPRESS": compress,
        "OVERVIEWS": "IGNORE_EXISTING",
        "OVERVIEW_RESAMPLING": "AVERAGE",
        "NUM_THREADS": "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
    }
    # Horizontal differencing (2) for integers, floating-point predictor (3) for reals: the driver
    # picks from YES; complex samples have no predictor.
    if compress in _PREDICTED and not dtype.startswith("complex"):
        options["PREDICTOR"] = "YES"
    return options


def gdal_env() -> rasterio.Env:
    # ALL_CPUS also lets the JPEG 2000 decoder work on several code-blocks at once.
    return rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS")


@contextlib.contextmanager
def partial_path(target: pathlib.Path, suffix: str = ".part") -> Iterator[pathlib.Path]:
    """A hidden sibling of `target` to write to; removed if the block fails."""
    partial = target.with_name(f".{target.name}{suffix}")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_cog(
    source: str | pathlib.Path | DatasetReader,
    target: pathlib.Path,
    compress: str = DEFAULT_COMPRESS,
    dtype: str = "uint16",
) -> None:
    """Copies `source` (a path or an open dataset) to `target` as a COG, atomically."""
    options = creation_options(compress, dtype)
    with partial_path(target) as partial:
        with gdal_env():
            rasterio.shutil.copy(source, partial, driver="COG", **options)
        os.replace(partial, target)


def band_vrt(
    path: pathlib.Path, dataset: DatasetReader, nodata: float | None, descriptions: Mapping[int, str]
) -> str:
    """A VRT of every band of `dataset` (opened from `path`) with its nodata value and descriptions
    overridden: JPEG 2000 bands carry no nodata, and the COG driver copies what its source says."""
    height, width = dataset.height, dataset.width
    block_h, block_w = dataset.block_shapes[0]
    crs = f"<SRS>{escape(dataset.crs.to_wkt())}</SRS>" if dataset.crs else ""
    t = dataset.transform
    geo = f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>"
    bands = []
    for index, dtype in zip(dataset.indexes, dataset.dtypes, strict=True):
        gdal_type = _GDAL_TYPES[dtype]
        nodata_xml = f"<NoDataValue>{nodata!r}</NoDataValue>" if nodata is not None else ""
        text = descriptions.get(index) or dataset.descriptions[index - 1] or ""
        description = f"<Description>{escape(text)}</Description>" if text else ""
        bands.append(
            f'<VRTRasterBand dataType="{gdal_type}" band="{index}" '
            f'blockXSize="{block_w}" blockYSize="{block_h}">{description}{nodata_xml}'
            f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(str(path.resolve()))}</SourceFilename>'
            f"<SourceBand>{index}</SourceBand>"
            f'<SourceProperties RasterXSize="{width}" RasterYSize="{height}" DataType="{gdal_type}" '
            f'BlockXSize="{block_w}" BlockYSize="{block_h}"/>'
            f'<SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>'
            f'<DstRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>'
            f"</SimpleSource></VRTRasterBand>"
        )
    return f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">{crs}{geo}{"".join(bands)}</VRTDataset>'


_GDAL_TYPES = {
    "uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
    "int32": "Int32", "float32": "Float32", "float64": "Float64", "complex64": "CFloat32",
}  # fmt: skip
