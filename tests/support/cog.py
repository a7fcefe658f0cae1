"""Cloud-Optimized GeoTIFF validation for the tests: rio-cogeo's `cog_validate`, the rasterio port of
GDAL's `validate_cloud_optimized_geotiff.py` (tiling above 512 pixels, internal and tiled overviews, the
main IFD right after the header, IFDs before the data, the smallest overview's data first, no edit since
creation flagged by GDAL's KNOWN_INCOMPATIBLE_EDITION). A community validator rather than our own reading
of the rules: a file it accepts is a COG for the tools that read them.
"""

from __future__ import annotations

import dataclasses
import pathlib

import rasterio
from rio_cogeo.cogeo import cog_validate


@dataclasses.dataclass
class Report:
    errors: list[str]
    warnings: list[str]
    ghost: dict[str, str]  # GDAL's structural metadata (LAYOUT=IFDS_BEFORE_DATA, ...), empty if absent
    overview_sizes: list[tuple[int, int]]  # (width, height), largest first


def validate(path: str | pathlib.Path) -> Report:
    """rio-cogeo's findings on the file at `path`, with the facts the tests check beside them."""
    _, errors, warnings = cog_validate(path, quiet=True)
    ghost: dict[str, str] = {}
    sizes: list[tuple[int, int]] = []
    if errors != ["The file is not a GeoTIFF"]:  # rio-cogeo stops there; rasterio can still open it
        with rasterio.open(path) as dataset:
            text = dataset.get_tag_item("GDAL_STRUCTURAL_METADATA", "TIFF") or ""
            levels = len(dataset.overviews(1))
        ghost = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        for level in range(levels):
            with rasterio.open(path, OVERVIEW_LEVEL=level) as overview:
                sizes.append((overview.width, overview.height))
    return Report(errors, warnings, ghost, sizes)


def assert_cog(path: str | pathlib.Path) -> Report:
    """Fails with every finding unless `path` is a valid COG without warnings."""
    report = validate(path)
    findings = report.errors + report.warnings
    assert not findings, f"{path} is not a valid COG: " + "; ".join(findings)
    return report
