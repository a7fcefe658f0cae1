"""WKT parsing fails only with shapely's errors (libs/domain/wkt.py)."""

from __future__ import annotations

import pytest
from shapely import errors

from libs.domain import wkt


@pytest.mark.parametrize("text", ["é" * 3000, "POLYGON ((0 0, 1 é, 1 1, 0 0))", "x" * 1021 + "é"])
def test_non_ascii_text_is_a_parse_error(text: str) -> None:
    with pytest.raises(errors.GEOSException, match="WKT is ASCII"):
        wkt.from_wkt(text)


def test_ascii_wkt_parses_and_garbage_is_a_parse_error() -> None:
    assert wkt.from_wkt("POINT (1 2)").x == 1.0
    with pytest.raises(errors.ShapelyError):
        wkt.from_wkt("x" * 3000)
