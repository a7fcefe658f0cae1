"""Annotation parsing against the real fixtures (expected_bursts.json, spec sentinel1-bursts.md)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from services.catalogue.bursts import burst_id, parse

# The shared fixtures sit beside the repository (../shared from the project root).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "s1"
EXPECTED = json.loads((FIXTURES / "expected_bursts.json").read_text())
FILES = [(scene, ann) for scene in EXPECTED["scenes"] for ann in scene["annotations"]]


def _ids(case):
    return case[1]["file"].rsplit("/", 1)[-1]


@pytest.mark.parametrize("case", FILES, ids=_ids)
def test_every_burst_of_every_file(case):
    _scene, ann = case
    bursts = parse.parse_annotation((FIXTURES / ann["file"]).read_bytes(), ann["file"])
    assert len(bursts) == ann["burst_count"] == 9
    for burst, want in zip(bursts, ann["bursts"], strict=True):
        assert burst.swath == ann["swath"]
        assert burst.tile_nr == want["tile_nr"]
        assert burst.anx_key == want["geocube_anx_key"]
        assert burst.wkt == want["geocube_wkt"]
        assert parse.tile_id("ASCENDING", "108", burst.swath, burst.anx_key) == want["geocube_tile_id"]
        # The XML's <burstId> and ESA's formula must agree wherever both exist.
        assert burst.burst_id_xml == want["esa_burst_id_xml"]
        assert burst.burst_id_computed == want["esa_burst_id_computed"] == burst.burst_id_xml
        assert burst.burst_id == want["esa_burst_id_xml"]
        assert (burst.direction, burst.relative_orbit) == ("A", 108)


@pytest.mark.parametrize("case", FILES, ids=_ids)
def test_legacy_key_converts_to_the_esa_id(case):
    # Tiles stored by the reference carry only their key: it must map back to the same burst.
    _scene, ann = case
    for want in ann["bursts"]:
        assert (
            burst_id.esa_burst_id_from_key(ann["swath"], want["geocube_anx_key"], 108)
            == want["esa_burst_id_xml"]
        )


def test_vh_and_vv_files_of_a_swath_give_identical_bursts():
    folder = FIXTURES / f"{EXPECTED['scenes'][0]['scene']}.SAFE" / "annotation"
    vh, vv = sorted(folder.glob("s1a-iw1-*.xml"))
    assert parse.parse_annotation(vh.read_bytes(), vh.name) == parse.parse_annotation(
        vv.read_bytes(), vv.name
    )


def test_go_rounding_and_modulus():
    assert [parse.go_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999)] == [1, 2, 3, -1, -3, 2]
    # Equator-crosser test vector: Go mods by 5924 (not 5924.571), key 2843 (spec §4.1).
    assert parse.anx_key(6208.2659857713) == 2843
    assert parse.anx_key(836.1233655546) == 8361


def test_esa_formula_asf_vector():
    sensing = dt.datetime(2023, 4, 22, 18, 46, 39, 515927)
    anx = dt.datetime(2023, 4, 22, 17, 3, 10, 235250)
    # This product starts past the equator (track 16 at start and stop) but annotates the previous ANX:
    # one nominal orbit is taken off, as parse_annotation does when the product start is that far.
    since = (sensing - anx).total_seconds() - burst_id.T_ORB
    assert burst_id.esa_burst_id("IW2", since, 16) == 32322
    assert burst_id.esa_burst_id("IW2", since, 48213) == 103556001
    assert burst_id.relative_orbit("S1A", 58630) == 108
    assert burst_id.esa_burst_id("S1", since, 16) is None


def test_corrupt_xml_names_the_file():
    with pytest.raises(parse.AnnotationError, match=r"annotation file broken/s1a-iw1.xml is not valid XML"):
        parse.parse_annotation(b"<product><adsHeader>", "broken/s1a-iw1.xml")


def test_missing_element_names_the_file_and_element():
    with pytest.raises(parse.AnnotationError, match=r"x\.xml: missing adsHeader/swath"):
        parse.parse_annotation(b"<product><adsHeader/></product>", "x.xml")


def test_missing_grid_line_is_an_error():
    _scene, ann = FILES[1]
    text = (FIXTURES / ann["file"]).read_text()
    # Drop the near-range grid point of line 0: burst 1 has no first line any more.
    start = text.index("<line>0</line>\n        <pixel>0</pixel>")
    text = text[:start] + "<line>7</line>\n        <pixel>0</pixel>" + text[start + 36 :]
    with pytest.raises(parse.AnnotationError, match=r"First line not found in annotation file f.xml"):
        parse.parse_annotation(text.encode(), "f.xml")


def test_parse_time_is_reported(capsys):
    # A measure, not a pass/fail timing: the machine is shared with benchmarks.
    data = [(FIXTURES / ann["file"]).read_bytes() for _s, ann in FILES]
    start = time.perf_counter()
    for blob in data:
        parse.parse_annotation(blob, "f.xml")
    per_file = (time.perf_counter() - start) / len(data) * 1000
    with capsys.disabled():
        print(f"\nannotation parse: {per_file:.1f} ms per file ({len(data)} files of ~1 MB)")
