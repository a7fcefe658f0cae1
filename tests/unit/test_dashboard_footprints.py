"""The dashboard's footprint reading (gateway/routes/dashboard.py): a record's WKT that cannot be drawn is
listed without a geometry, never an error of the page's read."""

from __future__ import annotations

import pytest

from gateway.routes.dashboard import _geometry


def test_a_footprint_is_read_as_geojson() -> None:
    assert _geometry("POINT (1 2)") == {"type": "Point", "coordinates": (1.0, 2.0)}
    assert _geometry("") is None and _geometry("POLYGON EMPTY") is None


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON ((0 0, 1 0",
        # GEOS quotes the text it refuses, cut at 1 kB: inside a 2-byte character, shapely raised
        # UnicodeDecodeError (a 500 of /ui/api/aoi/{aoi}/footprints).
        "é" * 2000,
    ],
)
def test_a_broken_footprint_is_not_drawn(text: str) -> None:
    assert _geometry(text) is None
