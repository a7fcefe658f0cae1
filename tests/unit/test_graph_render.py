"""Argument and command-line rendering (spec §6.2, §6.3, §6.7) for every previous/reference case.

Cases, with T0 the current tile, T1 the previous one and T2 the reference (absent → T0):
  root      T1 = T2 = T0 (first acquisition of the series)
  second    T1 = T2 ≠ T0 (the previous tile is the reference)
  later     T0, T1, T2 all different
  repeated  T1 = T0 ≠ T2 (does not happen in practice; checks the T1/T2 comparison)
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys

import pytest

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.graph import load_graph
from libs.graph.loader import LIBRARY_DIR
from libs.graph.model import Arg, ArgType, Engine, Step
from libs.graph.render import RenderError, command_line, format_date, render_value
from libs.graph.run import RunOptions, input_files, planned_commands

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"
UTC = dt.UTC
GPT = pathlib.Path("/opt/snap/bin/gpt")
OPTIONS = RunOptions(snap_gpt=GPT)


def s1_tile(day: int, burst: str = "A44_IW1_1561") -> Tile:
    scene_id = f"S1A_IW_SLC__1SDV_201901{day:02d}T170631_201901{day:02d}T170658_025312_02CCE8_9D2D"
    scene = Scene(
        id=day,
        source_id=scene_id,
        aoi="denmark",
        data=SceneAttrs(date=dt.datetime(2019, 1, day, 17, 6, tzinfo=UTC)),
    )
    return Tile(id=day, source_id=burst, scene=scene, data=TileAttrs(swath_id="IW1", tile_nr=1561))


T0, T1, T2 = s1_tile(15), s1_tile(9), s1_tile(3)
CASES = {
    "root": [T0, T0, T0],
    "second": [T0, T1, T1],
    "later": [T0, T1, T2],
    "repeated": [T0, T0, T2],
}


def snap_call(argv: list[str]) -> tuple[str, dict[str, str]]:
    """(graph xml, -P parameters) of a SNAP command line, checking its fixed part."""
    assert argv[0] == str(GPT)
    assert argv[2:6] == ["-x", "-q", "1", "-J-Xmx9000m"]
    params = dict(token[2:].split("=", 1) for token in argv[6:])
    assert all(token.startswith("-P") for token in argv[6:])
    return argv[1], params


def s2_tile(day: int) -> Tile:
    scene_id = f"S2A_MSIL1C_202201{day:02d}T103421_N0301_R108_T32VNH_202201{day:02d}T123507"
    scene = Scene(
        id=day, source_id=scene_id, aoi="a", data=SceneAttrs(date=dt.datetime(2022, 1, day, tzinfo=UTC))
    )
    return Tile(id=day, source_id=scene_id, scene=scene, data=TileAttrs())


@pytest.mark.parametrize("case", list(CASES))
def test_extract_s2_bands(tmp_path: pathlib.Path, case: str) -> None:
    # Same shapes as CASES, with Sentinel-2 tiles: the graph ignores the previous and reference tiles.
    by_day = {15: s2_tile(4), 9: s2_tile(2), 3: s2_tile(1)}
    tiles = [by_day[t.scene.data.date.day] for t in CASES[case]]
    scene_id = tiles[0].scene.source_id
    graph = load_graph("library/graph/ExtractS2Bands.json", [], False)
    commands = planned_commands(graph, {}, tiles, tmp_path, None)
    assert commands == [
        [
            sys.executable,
            str(LIBRARY_DIR / "python" / "extract_s2.py"),
            f"--workdir={tmp_path.resolve()}",
            f"--pattern-out=20220104_{scene_id}_*.tif",
            "--compress=DEFLATE",
        ]
    ]
    assert [(t.source_id, f.layer, f.extension) for t, f in input_files(graph, tiles)] == [
        (scene_id, "__product__", "SAFE")
    ]


def test_s1_coreg_extract(tmp_path: pathlib.Path) -> None:
    graph = load_graph(str(FIXTURES / "S1CoregExtract.json"), [FIXTURES], False)
    prefix = {t.scene.source_id: t.scene.data.date.strftime("%Y%m%d") + "_A44_IW1_1561" for t in (T0, T1, T2)}
    p0, p1, p2 = (prefix[t.scene.source_id] for t in (T0, T1, T2))
    for case, expected_xml in {
        "root": ["snap/S1_SLC_BkG.xml"],
        "second": ["snap/S1_SLC_BkG.xml", "snap/S1_SLC_SlvExtract.xml"],
        "later": ["snap/S1_SLC_BkG.xml", "snap/S1_SLC_SlvExtract.xml"],
        "repeated": ["snap/S1_SLC_BkG.xml"],
    }.items():
        tiles = CASES[case]
        calls = [snap_call(argv) for argv in planned_commands(graph, {}, tiles, tmp_path, OPTIONS)]
        assert [xml for xml, _ in calls] == expected_xml, case
        master = {"root": p0, "second": p1, "later": p2, "repeated": p2}[case]
        assert calls[0][1] == {
            "dem_file": "",
            "dem_name": "SRTM 3Sec",
            "dem_nodata": "0",
            "dem_resampling": "BILINEAR_INTERPOLATION",
            "resampling": "BISINC_21_POINT_INTERPOLATION",
            "master": f"{master}_preprocessed.dim",
            "output": f"{p0}_coregistred.dim",
            "slave": f"{p0}_preprocessed.dim",
        }, case
        if len(calls) > 1:
            assert calls[1][1] == {"input": f"{p0}_coregistred.dim", "output": f"{p0}_coregextract.dim"}


@pytest.mark.parametrize(
    ("case", "n_steps", "cohdate"),
    [("root", 6, None), ("second", 12, "15Jan2019"), ("later", 13, "03Jan2019"), ("repeated", 7, None)],
)
def test_s1_backscatter_coherence(
    tmp_path: pathlib.Path, case: str, n_steps: int, cohdate: str | None
) -> None:
    graph = load_graph(str(FIXTURES / "S1BackscatterCoherence.json"), [FIXTURES], False)
    tiles = CASES[case]
    commands = planned_commands(graph, {"resolution": "10"}, tiles, tmp_path, OPTIONS)
    assert len(commands) == n_steps
    snap = dict(snap_call(c) for c in commands if c[0] == str(GPT))
    backscatter = snap["snap/S1_SLC_Deb_BetaSigma_ML_TC_RNKELL.xml"]
    assert backscatter["img_suffix"] == "15Jan2019"
    assert backscatter["swath"] == "IW1"
    assert backscatter["resolution"] == "10"  # the item's graph_config overrides the graph's
    assert backscatter["outputVV"] == "20190115_A44_IW1_1561_sigma0_VV.tif"
    coherence = snap.get("snap/S1_SLC_Coh_BSel_Deb_ML_TC.xml")
    assert (coherence or {}).get("sel_date") == cohdate
    python_steps = [c for c in commands if c[0] == sys.executable]
    # The scripts are not installed here: the command is shown as written.
    assert python_steps[0][1:] == [
        "python/erodeMask.py",
        "--file-in=20190115_A44_IW1_1561_sigma0_VV.tif",
        "--file-out=20190115_A44_IW1_1561_sigma0_VV.tif",
        "--iterations=10",
        "--no-data=0",
    ]
    assert "--dformat-out=float32,0,0,1" in python_steps[1]
    imported = [(t.scene.data.date.day, f.layer) for t, f in input_files(graph, tiles)]
    assert (
        imported
        == {
            "root": [(15, "preprocessed")],
            "second": [(15, "preprocessed"), (9, "preprocessed")],
            "later": [(15, "preprocessed"), (9, "coregextract"), (3, "preprocessed")],
            "repeated": [(15, "preprocessed"), (15, "coregextract"), (3, "preprocessed")],
        }[case]
    )


def test_tile_values() -> None:
    tiles = [T0, T1, T2]
    assert render_value(Arg(ArgType.TILE, "scene"), {}, tiles) == T0.scene.source_id
    assert render_value(Arg(ArgType.TILE, "date"), {}, tiles) == "15Jan2019"
    assert render_value(Arg(ArgType.TILE, "swath"), {}, tiles) == "IW1"
    assert render_value(Arg(ArgType.TILE, "number"), {}, tiles) == "1561"
    assert render_value(Arg(ArgType.TILE, "constellation"), {}, tiles) == "Sentinel1"
    assert render_value(Arg(ArgType.TILE, "cohdate"), {}, [T0]) == "15Jan2019"
    assert render_value(Arg(ArgType.IN, tile_index=1, layer="coregextract", extension="dim"), {}, tiles) == (
        "20190109_A44_IW1_1561_coregextract.dim"
    )
    assert render_value(Arg(ArgType.OUT, layer="coh_VV", extension="tif"), {}, tiles) == (
        "20190115_A44_IW1_1561_coh_VV.tif"
    )


def test_render_errors() -> None:
    with pytest.raises(RenderError, match="key 'missing' not found in config"):
        render_value(Arg(ArgType.CONFIG, "missing"), {"other": "1"}, [T0])
    with pytest.raises(RenderError, match="key 'orbit' not found in tile"):
        render_value(Arg(ArgType.TILE, "orbit"), {}, [T0])
    with pytest.raises(RenderError, match="ArgIn: not enough tiles provided"):
        render_value(Arg(ArgType.IN, tile_index=2, layer="x"), {}, [T0])


@pytest.mark.parametrize(
    ("source_id", "expected"),
    [
        ("S1B_IW_SLC", "Sentinel1"),
        ("S2A_MSIL1C", "Sentinel2"),
        ("DS_PHR1A_2019", "PHR"),
        ("DS_SPOT7_2019", "SPOT"),
        ("LC08_L1TP_196022", "Landsat89"),
        ("LO09_x", "Landsat89"),
        ("LE07_x", "Unknown"),
        ("x", "Unknown"),
    ],
)
def test_constellation(source_id: str, expected: str) -> None:
    tile = Tile(
        id=1,
        source_id="t",
        scene=Scene(id=1, source_id=source_id, aoi="a", data=SceneAttrs()),
        data=TileAttrs(),
    )
    assert render_value(Arg(ArgType.TILE, "constellation"), {}, [tile]) == expected


def test_date_format_ignores_the_locale() -> None:
    assert format_date(dt.datetime(2019, 1, 3)) == "03Jan2019"
    assert format_date(dt.datetime(2021, 12, 31)) == "31Dec2021"


def test_command_lines_per_engine(tmp_path: pathlib.Path) -> None:
    shebang = tmp_path / "direct.py"
    shebang.write_text("#!/usr/bin/env python3\n")
    shebang.chmod(0o755)
    args = {"name": Arg(ArgType.FIXED, "a b 'c'"), "n": Arg(ArgType.CONFIG, "n")}
    config = {"n": "3"}
    direct = Step(Engine.PYTHON, "direct.py", args, command_path=shebang)
    assert command_line(direct, config, [T0]) == [str(shebang), "--name=a b 'c'", "--n=3"]
    cmd = Step(Engine.CMD, "tool", args, command_path=pathlib.Path("/usr/bin/tool"))
    assert command_line(cmd, config, [T0]) == ["/usr/bin/tool", "--name=a b 'c'", "--n=3"]
    snap = Step(Engine.SNAP, "g.xml", args, command_path=pathlib.Path("/g/g.xml"))
    # Without snap_cpu_parallelism the reference passes an empty token.
    assert command_line(snap, config, [T0], snap_gpt=GPT) == [
        str(GPT),
        "/g/g.xml",
        "-x",
        "-q",
        "",
        "-J-Xmx9000m",
        "-Pname=a b 'c'",
        "-Pn=3",
    ]
