"""Time to parse Sentinel-1 annotation files into bursts (goal: well under 50 ms per ~1 MB file) and to
run the burst inventory of the two fixture scenes. A measure to record in docs/benchmarks.md, not a test.

    .venv/bin/python -m benchmarks.bursts [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

from services.catalogue.bursts import inventory, parse
from services.domain import models

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "s1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = sorted(FIXTURES.glob("*.SAFE/annotation/s1*.xml"))
    blobs = [(f.name, f.read_bytes()) for f in files]
    per_file = []
    for _ in range(args.repeat):
        for name, data in blobs:
            start = time.perf_counter()
            parse.parse_annotation(data, name)
            per_file.append((time.perf_counter() - start) * 1000)
    print(
        f"parse_annotation: {len(blobs)} files x {args.repeat}: median {statistics.median(per_file):.1f} ms,"
        f" max {max(per_file):.1f} ms per file"
    )
    area = models.Area(
        name="bench",
        geometry_wkt="POLYGON((-140 40, -110 40, -110 60, -140 60, -140 40))",
        annotations_urls=[str(FIXTURES / "{SCENE}.SAFE")],
    )
    runs = []
    for _ in range(args.repeat):
        scenes = [
            models.CatalogScene(
                source_id=folder.name.removesuffix(".SAFE"),
                data=models.SceneAttrs(date=dt.datetime.strptime(folder.name[17:32], "%Y%m%dT%H%M%S")),
                tags={"orbitDirection": "ASCENDING", "relativeOrbit": "108"},
            )
            for folder in sorted(FIXTURES.glob("*.SAFE"))
        ]
        start = time.perf_counter()
        inventory.burst_inventory(area, scenes, area.annotations_urls)
        runs.append((time.perf_counter() - start) * 1000)
    print(f"burst_inventory: 2 scenes (7 files, 54 tiles): median {statistics.median(runs):.1f} ms")


if __name__ == "__main__":
    main()
