"""Burst inventory and tiling against the real fixtures: tiles, AOI filter, previous/reference links,
annotation sources (folder, zip, file://) and their errors."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from services.catalogue import payload, tiling
from services.catalogue.bursts import annotations, inventory
from services.catalogue.bursts.inventory import IngestedTile
from libs.domain import models
from libs.runtime.errors import InvalidArgument, NotFound

# The shared fixtures sit beside the repository (../shared from the project root).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "s1"
EXPECTED = json.loads((FIXTURES / "expected_bursts.json").read_text())
SCENES = [s["scene"] for s in EXPECTED["scenes"]]
OLD, NEW = SCENES
FOLDER = str(FIXTURES / "{SCENE}.SAFE")
WORLD = "POLYGON((-140 40, -110 40, -110 60, -140 60, -140 40))"


def _date(scene: str) -> dt.datetime:
    return next(
        dt.datetime.fromisoformat(s["scene_date"]) for s in EXPECTED["scenes"] if s["scene"] == scene
    ).replace(tzinfo=dt.UTC)


def _scenes(*ids: str) -> list[models.CatalogScene]:
    # The local archive does not index Sentinel-1 yet: scenes as the reference's catalogue gives them.
    return [
        models.CatalogScene(
            source_id=i,
            aoi="aoi",
            data=models.SceneAttrs(date=_date(i)),
            tags={"orbitDirection": "ASCENDING", "relativeOrbit": "108"},
        )
        for i in ids
    ]


def _area(wkt: str = WORLD, urls: list[str] | None = None) -> models.Area:
    return models.Area(
        name="aoi", geometry_wkt=wkt, scene_graph_name="Preprocess", tile_graph_name="Coherence",
        annotations_urls=[FOLDER] if urls is None else urls, is_retriable=True,
    )  # fmt: skip


def burst_inventory(
    area: models.Area, scenes: list[models.CatalogScene], existing=()
) -> list[models.CatalogScene]:
    return inventory.burst_inventory(payload.for_tiling(area), scenes, area.annotations_urls, existing)


def _summary(scenes: list[models.CatalogScene]) -> list[tuple]:
    return [
        (s.source_id, t.source_id, t.data.swath_id, t.data.tile_nr, t.anx_time, t.wkt,
         t.previous and (t.previous.scene_id, t.previous.source_id),
         t.reference and (t.reference.scene_id, t.reference.source_id))
        for s in scenes for t in s.tiles
    ]  # fmt: skip


def test_two_dates_give_the_reference_tiles_and_links():
    scenes = burst_inventory(_area(), _scenes(OLD, NEW))
    for scene, want in zip(scenes, EXPECTED["scenes"], strict=True):
        got = [(t.source_id, t.data.swath_id, t.data.tile_nr, t.anx_time, t.wkt) for t in scene.tiles]
        assert got == [
            (w["SourceID"], w["swath_id"], w["tile_nr"], w["anx_key"], w["wkt"])
            for w in want["geocube_tiles_after_dedup"]
        ]  # 27 each: the IW1 VH and VV files collapse
        assert scene.data.tiles == {
            t.source_id: models.TileMapping(t.data.swath_id, t.data.tile_nr) for t in scene.tiles
        }
        assert all(t.data.graph_name == "Coherence" and t.data.is_retriable for t in scene.tiles)
        assert all(t.date == scene.data.date for t in scene.tiles)
    links = {
        (s.source_id, t.source_id): (
            t.previous and [t.previous.scene_id, t.previous.source_id],
            t.reference and [t.reference.scene_id, t.reference.source_id],
        )
        for s in scenes for t in s.tiles
    }  # fmt: skip
    want = {(e["scene"], e["tile"]): (e["previous"], e["reference"]) for e in EXPECTED["geocube_bursts_sort"]}
    assert links == want
    # The one burst whose key differs between dates still pairs (ESA ID 230136 on both).
    assert want[(NEW, "A108_IW1_8471")][0] == [OLD, "A108_IW1_8472"]


def test_scene_order_does_not_matter():
    forward = _summary(burst_inventory(_area(), _scenes(OLD, NEW)))
    backward = _summary(burst_inventory(_area(), _scenes(NEW, OLD)))
    assert sorted(forward) == sorted(backward)


@pytest.mark.parametrize("case", EXPECTED["aoi_filter_examples"]["cases"], ids=lambda c: c["name"])
def test_aoi_cases(case):
    scenes = burst_inventory(_area(case["aoi_wkt"]), _scenes(OLD, NEW))
    got = {s.source_id: sorted(t.source_id for t in s.tiles) for s in scenes}
    want = {scene: sorted(hits["buffer_0.05"]) for scene, hits in case["hits"].items() if hits["buffer_0.05"]}
    assert got == want  # scenes without any burst in the AOI are dropped


def test_new_date_chains_onto_the_leaf_and_points_at_the_root():
    root_day = _date(OLD) - dt.timedelta(days=12)
    existing = [
        IngestedTile("A108_IW1_8472", "S1A_ROOT", root_day),  # root
        IngestedTile("A108_IW1_8472", OLD, _date(OLD)),  # leaf
        IngestedTile("A108_IW1_8472", OLD, _date(OLD)),  # a root that is also a leaf comes twice
        IngestedTile("A108_IW2_8453", OLD, _date(OLD)),  # root and leaf
        IngestedTile(OLD, OLD, _date(OLD)),  # a whole-product tile: not a burst, ignored
    ]
    (scene,) = burst_inventory(_area(), _scenes(NEW), existing)
    tiles = {t.source_id: t for t in scene.tiles}
    b5 = tiles["A108_IW1_8471"]
    assert (b5.previous.scene_id, b5.previous.source_id) == (OLD, "A108_IW1_8472")
    assert (b5.reference.scene_id, b5.reference.source_id, b5.reference.date) == (
        "S1A_ROOT",
        "A108_IW1_8472",
        root_day,
    )
    iw2 = tiles["A108_IW2_8453"]
    assert iw2.previous == iw2.reference == models.TileRef("A108_IW2_8453", OLD, _date(OLD))
    assert tiles["A108_IW1_8361"].previous is None  # nothing ingested for that burst: a new root


def test_new_date_before_the_root_becomes_a_new_root():
    existing = [IngestedTile("A108_IW1_8471", NEW, _date(NEW))]
    (scene,) = burst_inventory(_area(), _scenes(OLD), existing)
    assert all(t.previous is None and t.reference is None for t in scene.tiles)


def _zip(path: Path, scene: str, *, corrupt: bool = False, corrupt_name: str = ".xml") -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        safe = FIXTURES / f"{scene}.SAFE"
        for file in sorted(safe.rglob("*")):
            if file.is_file():
                broken = corrupt and file.name.endswith(corrupt_name)
                data = b"<product><adsHeader>" if broken else file.read_bytes()
                archive.writestr(f"{scene}.SAFE/{file.relative_to(safe).as_posix()}", data)
        # Members that must not be taken for annotations.
        archive.writestr(f"{scene}.SAFE/annotation/calibration/calibration-s1a-iw1-slc-vv.xml", b"not xml")
        archive.writestr(f"{scene}.SAFE/annotation/rfi/rfi-s1a-iw1-slc-vv.xml", b"not xml")
        archive.writestr(f"{scene}.SAFE/measurement/s1a-iw1-slc-vv.tiff", b"")


def test_zip_and_folder_and_file_url_give_the_same_result(tmp_path):
    for scene in SCENES:
        (tmp_path / "2025" / scene[21:23]).mkdir(parents=True, exist_ok=True)
        _zip(tmp_path / "2025" / scene[21:23] / f"{scene}.SAFE.zip", scene)
    folder = _summary(burst_inventory(_area(), _scenes(OLD, NEW)))
    zipped = _summary(
        burst_inventory(_area(urls=[f"{tmp_path}/{{YEAR}}/{{MONTH}}/{{SCENE}}.SAFE.zip"]), _scenes(OLD, NEW))
    )
    file_url = _summary(burst_inventory(_area(urls=[f"file://{FIXTURES}"]), _scenes(OLD, NEW)))
    assert zipped == folder == file_url
    assert len(folder) == 54


def test_annotation_files_of_a_zip_are_only_the_product_ones(tmp_path):
    _zip(tmp_path / f"{OLD}.zip", OLD)
    found = annotations.read_annotations(OLD, "aoi", [str(tmp_path / "{SCENE}.zip")])
    assert [name.rsplit("/", 1)[-1][:14] for name, _ in found.files] == [
        "s1a-iw1-slc-vh", "s1a-iw1-slc-vv", "s1a-iw2-slc-vv", "s1a-iw3-slc-vv",
    ]  # fmt: skip
    assert found.location == str(tmp_path / f"{OLD}.zip")


def test_first_pattern_that_answers_wins_and_errors_name_every_place(tmp_path):
    missing = str(tmp_path / "{SCENE}.zip")
    found = annotations.read_annotations(OLD, "aoi", [missing, FOLDER])
    assert found.location == str(FIXTURES / f"{OLD}.SAFE")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound) as err:
        annotations.read_annotations(OLD, "aoi", [missing, str(tmp_path / "empty"), "/{AREA}/x"])
    text = str(err.value)
    assert f"annotation files of scene {OLD} not found" in text
    for place in (str(tmp_path / f"{OLD}.zip"), str(tmp_path / "empty"), "/aoi/x"):
        assert place in text


def test_unsupported_schemes_and_relative_paths_are_invalid():
    with pytest.raises(InvalidArgument, match=r"ftp://host/2025/S1A.*\(unsupported scheme 'ftp'"):
        annotations.read_annotations(OLD, "aoi", ["ftp://host/{YEAR}/{SCENE}.zip"])
    with pytest.raises(InvalidArgument, match="not an absolute path"):
        annotations.read_annotations(OLD, "aoi", ["data/{SCENE}.zip"])
    with pytest.raises(InvalidArgument, match="at least one annotations URL"):
        annotations.read_annotations(OLD, "aoi", [])
    # A later pattern that answers still wins over an unusable one.
    assert annotations.read_annotations(OLD, "aoi", ["ftp://b/{SCENE}.zip", FOLDER]).files


def test_corrupt_annotation_names_the_scene_and_file(tmp_path):
    _zip(tmp_path / f"{OLD}.zip", OLD, corrupt=True)
    with pytest.raises(
        InvalidArgument,
        match=rf"scene {OLD}: annotation file {OLD}\.SAFE/annotation/s1a-iw1-slc-vh-.*\.xml is not valid XML",
    ):
        burst_inventory(_area(urls=[str(tmp_path / "{SCENE}.zip")]), _scenes(OLD))


def test_one_polarisation_per_swath_is_parsed(tmp_path):
    """The VV file of IW1 annotates the same bursts as its VH file, parsed first: it is not read at all
    (docs/compatibility.md), so even a broken copy changes nothing; a swath's only file is always read."""
    _zip(tmp_path / f"{OLD}.zip", OLD, corrupt=True, corrupt_name="-004.xml")  # s1a-iw1-slc-vv-…-004.xml
    tiles = burst_inventory(_area(urls=[str(tmp_path / "{SCENE}.zip")]), _scenes(OLD))[0].tiles
    assert len(tiles) == 27
    _zip(tmp_path / f"{OLD}.zip", OLD, corrupt=True, corrupt_name="-005.xml")  # IW2's only file
    with pytest.raises(InvalidArgument, match=r"s1a-iw2-slc-vv-.*-005\.xml is not valid XML"):
        burst_inventory(_area(urls=[str(tmp_path / "{SCENE}.zip")]), _scenes(OLD))


def test_bad_zip_is_reported_with_its_place(tmp_path):
    (tmp_path / f"{OLD}.zip").write_bytes(b"not a zip")
    with pytest.raises(NotFound, match=r"\.zip \(BadZipFile"):
        annotations.read_annotations(OLD, "aoi", [str(tmp_path / "{SCENE}.zip")])


def test_list_tiles_dispatches_on_the_scene_graph():
    s2 = models.CatalogScene("S2A_MSIL1C_20250406T190911_N0511_R056_T10UDB_20250406T225239", wkt=WORLD)
    area = _area(urls=[])
    area.annotations_urls = []
    with pytest.raises(InvalidArgument, match="annotations_urls"):
        tiling.list_tiles(payload.for_tiling(area), _scenes(OLD))
    # Setting patterns come before the payload's; Sentinel-2 scenes keep one tile per scene, in order.
    out = tiling.list_tiles(payload.for_tiling(area), [s2, *_scenes(OLD, NEW)], annotation_urls=[FOLDER])
    assert [s.source_id for s in out] == [s2.source_id, OLD, NEW]
    assert [len(s.tiles) for s in out] == [1, 27, 27]
    copy = _area()
    copy.scene_graph_name = tiling.COPY_PRODUCT
    (whole,) = tiling.list_tiles(payload.for_tiling(copy), _scenes(OLD))
    assert [t.source_id for t in whole.tiles] == [OLD]


def test_list_tiles_drops_s1_scenes_outside_the_aoi():
    far = EXPECTED["aoi_filter_examples"]["cases"][-1]["aoi_wkt"]
    assert tiling.list_tiles(payload.for_tiling(_area(far)), _scenes(OLD, NEW)) == []
