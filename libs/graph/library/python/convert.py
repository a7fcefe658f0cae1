"""Converts a raster to the data format a graph indexes (`dformat_out`, spec §6.6), written as a COG.

    convert.py --file-in=in.tif --file-out=out.tif --range-in=0,1 --dformat-out=uint16,0,1,65535

The arguments are the reference's `python/convert.py` ones (its S1 graphs call it in place, with
`--file-in` = `--file-out`). Every band, pixel by pixel:

* nodata in (the input's nodata value, NaN or ±inf) → the output nodata;
* otherwise v ↦ min + (v − range_in_min) × (max − min) / (range_in_max − range_in_min), clipped to
  [min, max], rounded half to even for integer types.

An integer output cannot hold a NaN nodata: such a dformat is refused rather than silently mapping
nodata onto valid values. A valid value may still land on the output nodata when it lies inside
[min, max] (e.g. `float32,0,0,1` makes the range-in minimum nodata), as with the reference.

The input is read by strips of 512 rows into an uncompressed tiled GeoTIFF beside the output, which the
COG driver then lays out: a 10980×10980 band is never held in memory, and the output is written under
its name only once complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import sys

import numpy as np
import rasterio
import rasterio.errors
from rasterio.windows import Window

if __package__:
    from . import cog
else:  # run as a script: its folder is sys.path[0]
    import cog  # type: ignore[no-redef, import-not-found]

STRIP_ROWS = cog.BLOCK_SIZE  # rows per read: whole output tiles, ~45 MB of float64 for 10980 columns
# Data types a dformat may name (spec §6.6 aliases), as numpy types.
_DTYPES = {
    "uint8": "uint8", "byte": "uint8", "u1": "uint8",
    "uint16": "uint16", "u2": "uint16",
    "uint32": "uint32", "u4": "uint32",
    "int16": "int16", "i2": "int16",
    "int32": "int32", "i4": "int32",
    "float32": "float32", "f4": "float32",
    "float64": "float64", "f8": "float64",
}  # fmt: skip


class FatalError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class DFormat:
    dtype: np.dtype
    nodata: float
    min_value: float
    max_value: float

    @classmethod
    def parse(cls, text: str) -> DFormat:
        """`dtype,nodata,min,max`; raises FatalError when the format cannot be written."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 4:
            raise FatalError(f"invalid dformat-out [{text}]: expecting dtype,nodata,min,max")
        name = _DTYPES.get(parts[0].lower())
        if name is None:
            raise FatalError(f"invalid dformat-out [{text}]: unsupported dtype {parts[0]}")
        try:
            nodata, low, high = (float(part) for part in parts[1:])
        except ValueError:
            raise FatalError(f"invalid dformat-out [{text}]: numbers expected") from None
        dformat = cls(np.dtype(name), nodata, low, high)
        dformat.check(text)
        return dformat

    @property
    def is_integer(self) -> bool:
        return self.dtype.kind in "ui"

    def check(self, text: str) -> None:
        if not (math.isfinite(self.min_value) and math.isfinite(self.max_value)):
            raise FatalError(f"invalid dformat-out [{text}]: min and max must be finite")
        if self.min_value > self.max_value:
            raise FatalError(f"invalid dformat-out [{text}]: min > max")
        if self.is_integer:
            info = np.iinfo(self.dtype)
            if math.isnan(self.nodata):
                raise FatalError(f"invalid dformat-out [{text}]: {self.dtype} cannot hold a NaN nodata")
            for value in (self.nodata, self.min_value, self.max_value):
                if not info.min <= value <= info.max:
                    raise FatalError(f"invalid dformat-out [{text}]: {value:g} outside {self.dtype}")


def parse_range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise FatalError(f"invalid range-in [{text}]: expecting min,max") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        raise FatalError(f"invalid range-in [{text}]: two different finite numbers expected")
    return low, high


def rescale(
    block: np.ndarray, nodata_in: float | None, range_in: tuple[float, float], dformat: DFormat
) -> np.ndarray:
    """The output pixels of an input block (any shape), per the rules of the module docstring."""
    values = block.astype(np.float64)
    invalid = ~np.isfinite(values)
    if nodata_in is not None and not math.isnan(nodata_in):
        invalid |= block == nodata_in
    low, high = range_in
    scale = (dformat.max_value - dformat.min_value) / (high - low)
    # In place: one float64 copy of the block is all the memory this needs.
    values -= low
    values *= scale
    values += dformat.min_value
    np.clip(values, dformat.min_value, dformat.max_value, out=values)
    if dformat.is_integer:
        np.rint(values, out=values)
    values[invalid] = dformat.nodata
    return values.astype(dformat.dtype)


def convert(
    file_in: pathlib.Path,
    file_out: pathlib.Path,
    range_in: tuple[float, float],
    dformat: DFormat,
    compress: str = cog.DEFAULT_COMPRESS,
) -> None:
    try:
        source = rasterio.open(file_in)
    except rasterio.errors.RasterioIOError as exc:
        raise FatalError(f"cannot read {file_in}: {exc}") from exc
    # The strips go to a hidden sibling of the output, so that in-place conversions (file-in ==
    # file-out) read the original until the COG replaces it.
    with source, cog.partial_path(file_out, ".strips.tif") as strips:
        nodata_in = source.nodata
        profile = {
            "driver": "GTiff",
            "width": source.width,
            "height": source.height,
            "count": source.count,
            "dtype": dformat.dtype.name,
            "crs": source.crs,
            "transform": source.transform,
            "nodata": dformat.nodata,
            "tiled": True,
            "blockxsize": cog.BLOCK_SIZE,
            "blockysize": cog.BLOCK_SIZE,
            "compress": "NONE",
            "BIGTIFF": "IF_SAFER",
        }
        with cog.gdal_env(), rasterio.open(strips, "w", **profile) as target:
            if any(source.descriptions):
                target.descriptions = tuple(text or "" for text in source.descriptions)
            for row in range(0, source.height, STRIP_ROWS):
                window = Window(0, row, source.width, min(STRIP_ROWS, source.height - row))
                target.write(rescale(source.read(window=window), nodata_in, range_in, dformat), window=window)
        try:
            cog.write_cog(strips, file_out, compress, dformat.dtype.name)
        finally:
            strips.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--file-in", required=True, type=pathlib.Path)
    parser.add_argument("--file-out", required=True, type=pathlib.Path)
    parser.add_argument("--range-in", required=True, help="min,max of the input values")
    parser.add_argument("--dformat-out", required=True, help="dtype,nodata,min,max of the output")
    parser.add_argument("--compress", default=cog.DEFAULT_COMPRESS, help="COG compression (DEFLATE, ZSTD…)")
    args = parser.parse_args(argv)
    try:
        cog.creation_options(args.compress)
        convert(
            args.file_in,
            args.file_out,
            parse_range(args.range_in),
            DFormat.parse(args.dformat_out),
            args.compress,
        )
    except (FatalError, cog.CogError) as exc:
        print(f"FATAL ERROR: {exc}", file=sys.stderr)
        return 1
    except (OSError, rasterio.errors.RasterioError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"converted {args.file_in.name} to {args.file_out.name} ({args.dformat_out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
