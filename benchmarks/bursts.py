"""Sentinel-1 burst inventory speed: annotation parsing (goal: well under 50 ms per ~1 MB file) and the
whole inventory of 100 scenes × 3 swaths read from local `.SAFE.zip` products. A measure to record in
docs/benchmarks.md, not a test.

The 100 products are built from the two real fixture products: each zip holds one product's real
annotation files (3 swaths; the fixtures keep 4 and 3 of the 6 files of a VV+VH product) under a new name (one date every 12 days), plus calibration
and noise members and a large measurement member stored uncompressed, as in a real product — so reading
only the annotation members, not the whole zip, is part of what is measured.

    .venv/bin/python -m benchmarks.bursts [--scenes 100] [--repeat 5] [--measurement-mb 64]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from services.catalogue import payload
from services.catalogue.bursts import inventory, parse
from libs.domain import models

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "s1"
AOI = "POLYGON((-140 40, -110 40, -110 60, -140 60, -140 40))"


def product_name(template: str, date: dt.datetime, orbit: int) -> str:
    # S1A_IW_SLC__1SDV_<start>_<stop>_<orbit>_<datatake>_<id>: only the dates and the orbit change.
    stop = date + dt.timedelta(seconds=27)
    return f"{template[:17]}{date:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_{orbit:06d}{template[55:63]}{orbit % 65536:04X}"


def build_products(folder: Path, count: int, measurement_mb: int) -> list[models.CatalogScene]:
    sources = sorted(FIXTURES.glob("*.SAFE"))
    filler = os.urandom(1 << 20)
    scenes = []
    for i in range(count):
        source = sources[i % len(sources)]
        template = source.name.removesuffix(".SAFE")
        date = dt.datetime(2025, 1, 1, 2, 20, 8) + dt.timedelta(days=12 * i)
        name = product_name(template, date, 57000 + 175 * i)
        with zipfile.ZipFile(folder / f"{name}.SAFE.zip", "w") as archive:
            for xml in sorted(source.glob("annotation/s1*.xml")):
                archive.write(xml, f"{name}.SAFE/annotation/{xml.name}", zipfile.ZIP_DEFLATED)
                for sub in ("calibration/calibration", "calibration/noise"):
                    archive.writestr(f"{name}.SAFE/annotation/{sub}-{xml.name}", b"<x/>" * 1000)
            with archive.open(
                f"{name}.SAFE/measurement/s1a-iw1-slc-vv.tiff", "w", force_zip64=True
            ) as member:
                for _ in range(measurement_mb):
                    member.write(filler)
        scenes.append(
            models.CatalogScene(
                source_id=name,
                data=models.SceneAttrs(date=date),
                tags={"orbitDirection": "ASCENDING", "relativeOrbit": "108"},
            )
        )
    return scenes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=100, help="products in the inventory")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measure")
    parser.add_argument(
        "--measurement-mb", type=int, default=64, help="size of each zip's measurement member"
    )
    args = parser.parse_args()
    # One product every 12 days (S1A alone) is normal: the inventory's gap warning would flood the output.
    logging.getLogger("services.catalogue.bursts").setLevel(logging.ERROR)

    paths = sorted(FIXTURES.glob("*.SAFE/annotation/s1*.xml"))
    blobs = [(f.name, f.read_bytes()) for f in paths]
    per_file = []
    for _ in range(args.repeat):
        for name, data in blobs:
            start = time.perf_counter()
            parse.parse_annotation(data, name)
            per_file.append((time.perf_counter() - start) * 1000)
    print(
        f"parse_annotation: {len(blobs)} real files x {args.repeat}: median {statistics.median(per_file):.1f} ms,"
        f" max {max(per_file):.1f} ms per file"
    )

    with tempfile.TemporaryDirectory(prefix="bench-bursts-") as tmp:
        print(f"building {args.scenes} zips ...", flush=True)
        scenes = build_products(Path(tmp), args.scenes, args.measurement_mb)
        area = models.Area(name="bench", geometry_wkt=AOI, annotations_urls=[f"{tmp}/{{SCENE}}.SAFE.zip"])
        files = sum(
            1 for zip_path in Path(tmp).glob("*.zip") for name in zipfile.ZipFile(zip_path).namelist()
            if re.search(r"annotation/s1[^/]*xml$", name)
        )  # fmt: skip
        runs, tiles = [], 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = inventory.burst_inventory(payload.for_tiling(area), scenes, area.annotations_urls)
            runs.append(time.perf_counter() - start)
            tiles = sum(len(scene.tiles) for scene in result)
        best, median = min(runs), statistics.median(runs)
        print(
            f"burst_inventory: {args.scenes} scenes x 3 swaths ({files} annotation files, {tiles} tiles)"
            f" from local zips: median {median:.2f} s ({tiles / median:,.0f} bursts/s,"
            f" {median / files * 1000:.1f} ms per file), best {best:.2f} s"
        )


if __name__ == "__main__":
    main()
