"""Extracts the bands of the Sentinel-2 product (`*.SAFE`) found in the working directory.

Every `<product>.SAFE/GRANULE/*/IMG_DATA/*_B??.jp2` is written to `--pattern-out` with `*` replaced by
the band code (`B01`…`B12`, `B8A`), e.g. `20220104_S2A_…_*.tif` → `20220104_S2A_…_B01.tif`.

The pattern's extension chooses the output: `.tif`/`.tiff` writes a Cloud-Optimized GeoTIFF (same
pixels, dtype and georeferencing; nodata from the band, else the product's NODATA special value; the
band code as band description); `.jp2` copies the band unchanged, as the reference's script does, so
graphs written for the reference keep working.

Output conventions of the graph engine: `FATAL ERROR: …` + exit 1 when retrying cannot help (no
product, no band, unreadable band), `ERROR: …` + exit 1 for anything else.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import xml.etree.ElementTree as ET

import rasterio
import rasterio.errors

if __package__:
    from . import cog
else:  # run as a script: its folder is sys.path[0]
    import cog  # type: ignore[no-redef, import-not-found]

COG_EXTENSIONS = (".tif", ".tiff")


class FatalError(Exception):
    pass


def band_files(workdir: pathlib.Path) -> tuple[pathlib.Path, dict[str, pathlib.Path]]:
    """The product folder and its band files by band code."""
    products = sorted(p for p in workdir.glob("*.SAFE") if p.is_dir())
    if not products:
        raise FatalError(f"no .SAFE product found in {workdir}")
    if len(products) > 1:
        raise FatalError(f"several .SAFE products found in {workdir}: {', '.join(p.name for p in products)}")
    bands: dict[str, pathlib.Path] = {}
    for path in sorted(products[0].glob("GRANULE/*/IMG_DATA/*_B??.jp2")):
        band = path.stem[-3:]  # T32VNH_20220104T103421_B8A → B8A
        if band in bands:
            raise FatalError(f"band {band} found twice: {bands[band]} and {path}")
        bands[band] = path
    if not bands:
        raise FatalError(f"no band found in {products[0]}/GRANULE/*/IMG_DATA")
    return products[0], bands


def product_nodata(product: pathlib.Path) -> float | None:
    """The NODATA special value of the product metadata (0 for L1C and L2A), None if not stated.

    JPEG 2000 files cannot carry a nodata value, so without this the COGs would have none."""
    for mtd in sorted(product.glob("MTD_MSI*.xml")):
        try:
            root = ET.parse(mtd).getroot()
        except (OSError, ET.ParseError) as exc:
            raise FatalError(f"unreadable product metadata {mtd.name}: {exc}") from exc
        for special in root.iter("Special_Values"):
            if (special.findtext("SPECIAL_VALUE_TEXT") or "").strip() == "NODATA":
                index = special.findtext("SPECIAL_VALUE_INDEX") or "nan"
                try:
                    return float(index)
                except ValueError:
                    raise FatalError(f"{mtd.name}: NODATA special value {index!r} is not a number") from None
    return None


def band_to_cog(
    source: pathlib.Path, target: pathlib.Path, band: str, nodata: float | None, compress: str
) -> None:
    try:
        with rasterio.open(source) as dataset:
            # The band's own nodata (e.g. from a .aux.xml) wins over the product's.
            value = dataset.nodata if dataset.nodata is not None else nodata
            vrt = cog.band_vrt(source, dataset, value, {1: band})
            dtype = dataset.dtypes[0]
    except rasterio.errors.RasterioIOError as exc:
        raise FatalError(f"unreadable band {source.name}: {exc}") from exc
    # The VRT only renames nodata and description: pixels stream from the JPEG 2000 file.
    vrt_path = target.with_name(f".{target.name}.vrt")
    try:
        vrt_path.write_text(vrt, encoding="utf-8")
        cog.write_cog(vrt_path, target, compress, dtype)
    finally:
        vrt_path.unlink(missing_ok=True)


def extract(
    workdir: pathlib.Path, pattern_out: str, compress: str = cog.DEFAULT_COMPRESS
) -> list[pathlib.Path]:
    if pattern_out.count("*") != 1:
        raise FatalError(f"--pattern-out must contain exactly one '*': {pattern_out}")
    suffix = pathlib.PurePath(pattern_out).suffix.lower()
    if suffix not in (".jp2", *COG_EXTENSIONS):
        raise FatalError(f"--pattern-out must end with .tif, .tiff or .jp2: {pattern_out}")
    try:
        cog.creation_options(compress)
    except cog.CogError as exc:
        raise FatalError(str(exc)) from exc
    product, bands = band_files(workdir)
    nodata = product_nodata(product) if suffix in COG_EXTENSIONS else None
    written = []
    for band, source in bands.items():
        # A relative pattern is relative to the working directory, whatever the current directory.
        target = workdir / pattern_out.replace("*", band)
        if suffix == ".jp2":
            shutil.copyfile(source, target)
        else:
            band_to_cog(source, target, band, nodata, compress)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
    parser.add_argument("--pattern-out", required=True)
    parser.add_argument("--compress", default=cog.DEFAULT_COMPRESS, help="COG compression (DEFLATE, ZSTD…)")
    args = parser.parse_args(argv)
    try:
        for path in extract(args.workdir, args.pattern_out, args.compress):
            print(f"extracted {path.name}")
    except FatalError as exc:
        print(f"FATAL ERROR: {exc}", file=sys.stderr)
        return 1
    except (OSError, rasterio.errors.RasterioError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
