"""One full-size Sentinel-2 band (10980×10980 uint16) to a Cloud-Optimized GeoTIFF: our graph steps
beside GDAL's COG driver doing the same conversion, in the same run. A measure for docs/benchmarks.md,
not a test.

    .venv/bin/python -m benchmarks.cog [--size 10980] [--repeat 1] [--compress DEFLATE]

1. S2 band: a `.SAFE` holding one lossless JPEG 2000 band (as ESA writes them) → `extract_s2.py`
   (what ExtractS2Bands runs) vs the COG driver on the same `.jp2` (`gdal_translate -of COG` when on
   PATH, else `rasterio.shutil.copy(driver="COG")`) with the same creation options.
2. dformat_out: an uncompressed tiled float32 GeoTIFF (reflectances 0-1, nodata -1) → `convert.py`
   to `uint16,0,1,10001` vs the COG driver reading the VRT `gdal_translate -ot UInt16 -scale 0 1 1 10001`
   builds (a scaled ComplexSource, nodata kept apart), then the two outputs are compared pixel by pixel.

Every command runs as a child process (as the graph engine runs steps); wall time and the child's own
peak RSS (`wait4`) are reported.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.transform import Affine
from rasterio.windows import Window

from libs.graph.library.python import cog

LIBRARY = pathlib.Path(cog.__file__).resolve().parent
SCENE = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
_MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
<n1:General_Info><Product_Image_Characteristics><Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values></Product_Image_Characteristics></n1:General_Info>
</n1:Level-1C_User_Product>
"""


def band_pixels(size: int, rows: slice, seed: int = 0) -> np.ndarray:
    """Rows of an L1C-like band: smooth land/sea pattern, clouds, texture, a nodata wedge (swath edge)."""
    y = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None] / size
    x = np.arange(size, dtype=np.float32)[None, :] / size
    land = np.sin(7 * x + 3 * np.sin(5 * y)) + np.cos(6 * y + 2 * np.cos(4 * x)) > 0.2
    cloud = np.sin(23 * x + 11 * y) * np.cos(17 * y - 5 * x) > 0.7
    values = np.where(cloud, 5200, np.where(land, 1100, 550)).astype(np.float32)
    values *= np.random.default_rng([seed, rows.start]).normal(1.0, 0.04, values.shape).astype(np.float32)
    pixels = np.clip(values, 1, 65534).astype(np.uint16)
    pixels[x.repeat(len(y), 0) < 0.25 - 0.2 * y] = 0  # outside the swath
    return pixels


def write_inputs(folder: pathlib.Path, size: int) -> tuple[pathlib.Path, pathlib.Path]:
    """The .SAFE's JPEG 2000 band and a float32 tiled GeoTIFF of the same content, written by strips."""
    img_data = folder / f"{SCENE}.SAFE" / "GRANULE" / "L1C_T32UNF_A034088_20220104T103418" / "IMG_DATA"
    img_data.mkdir(parents=True)
    (folder / f"{SCENE}.SAFE" / "MTD_MSIL1C.xml").write_text(_MTD)
    jp2, tif = img_data / "T32UNF_20220104T103421_B04.jp2", folder / "reflectance.tif"
    common = {
        "width": size,
        "height": size,
        "count": 1,
        "crs": "EPSG:32632",
        "transform": Affine(109_800 / size, 0, 499_980, 0, -109_800 / size, 6_100_020),
    }
    with (
        cog.gdal_env(),
        rasterio.open(jp2, "w", driver="JP2OpenJPEG", dtype="uint16", REVERSIBLE="YES", QUALITY=100, **common) as a,
        rasterio.open(tif, "w", driver="GTiff", dtype="float32", nodata=-1, tiled=True, blockxsize=512,
                      blockysize=512, BIGTIFF="YES", **common) as b,
    ):  # fmt: skip
        # JPEG 2000 encodes the whole image at close: hand it everything, the GeoTIFF strip by strip.
        band = np.empty((size, size), dtype=np.uint16)
        for row in range(0, size, 1024):
            rows = slice(row, min(row + 1024, size))
            band[rows] = band_pixels(size, rows)
            window = Window(0, row, size, rows.stop - row)
            b.write(np.where(band[rows] == 0, -1, band[rows] / 10000).astype(np.float32), 1, window=window)
        a.write(band, 1)
        del band
    return jp2, tif


def gdal_cog(source: pathlib.Path, target: pathlib.Path, compress: str, dtype: str) -> list[str]:
    """The COG driver directly, with the creation options our steps use."""
    options = cog.creation_options(compress, dtype)
    if shutil.which("gdal_translate"):
        creation = [token for key, value in options.items() for token in ("-co", f"{key}={value}")]
        return ["gdal_translate", "-q", "-of", "COG", *creation, str(source), str(target)]
    code = (
        "import sys, rasterio, rasterio.shutil\n"
        "with rasterio.Env(GDAL_NUM_THREADS='ALL_CPUS'):\n"
        f"    rasterio.shutil.copy(sys.argv[1], sys.argv[2], driver='COG', **{options!r})\n"
    )
    return [sys.executable, "-c", code, str(source), str(target)]


def scaled_vrt(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """GDAL's own linear rescale of `source` to uint16 1..10001, nodata -1 → 0 (no rescale by Python)."""
    with rasterio.open(source) as dataset:
        t = dataset.transform
        target.write_text(
            f'<VRTDataset rasterXSize="{dataset.width}" rasterYSize="{dataset.height}">'
            f"<SRS>{escape(dataset.crs.to_wkt())}</SRS>"
            f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>"
            '<VRTRasterBand dataType="UInt16" band="1" blockXSize="512" blockYSize="512">'
            f'<NoDataValue>0</NoDataValue><ComplexSource><SourceFilename relativeToVRT="0">{source}</SourceFilename>'
            "<SourceBand>1</SourceBand><NODATA>-1</NODATA><ScaleOffset>1</ScaleOffset>"
            "<ScaleRatio>10000</ScaleRatio></ComplexSource></VRTRasterBand></VRTDataset>"
        )
    return target


def differing_pixels(a: pathlib.Path, b: pathlib.Path) -> int:
    with rasterio.open(a) as first, rasterio.open(b) as second:
        return sum(
            int(np.count_nonzero(first.read(1, window=window) != second.read(1, window=window)))
            for _, window in first.block_windows(1)
        )


def measure(argv: list[str], cwd: pathlib.Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process, which must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env={**os.environ, "GDAL_NUM_THREADS": "ALL_CPUS"})
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv[:2]} failed with exit code {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # KiB on Linux


def compare(label: str, ours: list[str], gdal: list[str], cwd: pathlib.Path, repeat: int) -> None:
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "gdal": []}
    for _ in range(repeat):  # alternated, so that drifts of a shared VM hit both alike
        runs["ours"].append(measure(ours, cwd))
        runs["gdal"].append(measure(gdal, cwd))
    seconds = {name: statistics.median(t for t, _ in values) for name, values in runs.items()}
    rss = {name: max(r for _, r in values) for name, values in runs.items()}
    print(
        f"{label}: ours {seconds['ours']:.1f} s ({rss['ours']:.0f} MB peak RSS), "
        f"GDAL COG driver {seconds['gdal']:.1f} s ({rss['gdal']:.0f} MB), "
        f"ratio {seconds['ours'] / seconds['gdal']:.2f}x  (median of {repeat})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--compress", default=cog.DEFAULT_COMPRESS)
    parser.add_argument("--workdir", type=pathlib.Path, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench-cog-") as tmp:
        folder = pathlib.Path(tmp)
        start = time.perf_counter()
        jp2, tif = write_inputs(folder, args.size)
        print(f"inputs ({args.size}x{args.size}) written in {time.perf_counter() - start:.1f} s")
        print(f"GDAL {rasterio.__gdal_version__}, rasterio {rasterio.__version__}, {os.cpu_count()} CPUs")
        extract = [
            sys.executable, str(LIBRARY / "extract_s2.py"), f"--workdir={folder}",
            "--pattern-out=ours_*.tif", f"--compress={args.compress}",
        ]  # fmt: skip
        compare(
            "S2 band JP2 -> COG",
            extract,
            gdal_cog(jp2, folder / "gdal.tif", args.compress, "uint16"),
            folder,
            args.repeat,
        )
        converted = [
            sys.executable, str(LIBRARY / "convert.py"), f"--file-in={tif}", f"--file-out={folder / 'ours.tif'}",
            "--range-in=0,1", "--dformat-out=uint16,0,1,10001", f"--compress={args.compress}",
        ]  # fmt: skip
        scaled = gdal_cog(
            scaled_vrt(tif, folder / "scaled.vrt"), folder / "gdal.tif", args.compress, "uint16"
        )
        compare("float32 GeoTIFF -> uint16 COG (dformat_out)", converted, scaled, folder, args.repeat)
        print(
            f"  pixels differing between the two: {differing_pixels(folder / 'ours.tif', folder / 'gdal.tif')}"
        )


if __name__ == "__main__":
    main()
