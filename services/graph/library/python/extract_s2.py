"""Extracts the bands of the Sentinel-2 product (`*.SAFE`) found in the working directory.

Every `<product>.SAFE/GRANULE/*/IMG_DATA/*_B??.jp2` is copied to `--pattern-out` with `*` replaced by
the band code (`B01`…`B12`, `B8A`), e.g. `20220104_S2A_…_*.jp2` → `20220104_S2A_…_B01.jp2`.

Output conventions of the graph engine: `FATAL ERROR: …` + exit 1 when retrying cannot help (no
product, no band), `ERROR: …` + exit 1 for anything else.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys


class FatalError(Exception):
    pass


def band_files(workdir: pathlib.Path) -> dict[str, pathlib.Path]:
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
    return bands


def extract(workdir: pathlib.Path, pattern_out: str) -> list[pathlib.Path]:
    if pattern_out.count("*") != 1:
        raise FatalError(f"--pattern-out must contain exactly one '*': {pattern_out}")
    written = []
    for band, source in band_files(workdir).items():
        # A relative pattern is relative to the working directory, whatever the current directory.
        target = workdir / pattern_out.replace("*", band)
        shutil.copyfile(source, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
    parser.add_argument("--pattern-out", required=True)
    args = parser.parse_args(argv)
    try:
        for path in extract(args.workdir, args.pattern_out):
            print(f"extracted {path.name}")
    except FatalError as exc:
        print(f"FATAL ERROR: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
