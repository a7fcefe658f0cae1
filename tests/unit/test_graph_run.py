"""Running graphs with real (tiny) scripts: error classification (§7.3) and out-file selection (§6.5)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import pathlib
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.graph import load_graph, run_graph
from libs.graph.model import Action, Condition, DType, Graph, GraphResult, OutFile
from libs.graph.run import RunOptions, input_files
from libs.storage import layers, open_storage

UTC = dt.UTC
TIMEOUT = 60  # seconds, for any graph run of these tests


def make_tile(scene_id: str = "S1A_current", tile_id: str = "A44_IW1_1561", day: int = 15) -> Tile:
    scene = Scene(
        id=day, source_id=scene_id, aoi="aoi", data=SceneAttrs(date=dt.datetime(2019, 1, day, tzinfo=UTC))
    )
    return Tile(id=day, source_id=tile_id, scene=scene, data=TileAttrs(swath_id="IW1", tile_nr=1561))


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def graph_with(
    tmp_path: pathlib.Path,
    steps: list[dict[str, Any]],
    out_files: list[list[dict[str, Any]]] | None = None,
    config: dict[str, str] | None = None,
    retriable: bool = False,
) -> Graph:
    path = tmp_path / "graphs" / "g.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps({"config": config or {}, "processing_steps": steps, "out_files": out_files or []})
    )
    return load_graph(str(path), [path.parent], retriable)


def script(tmp_path: pathlib.Path, name: str, body: str, *, executable: bool = False) -> str:
    path = tmp_path / "graphs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    if executable:
        path.chmod(0o755)
    return name


def python_step(tmp_path: pathlib.Path, body: str, **extra: Any) -> dict[str, Any]:
    name = f"step_{abs(hash(body))}.py"
    return {"engine": "python", "command": script(tmp_path, name, body), "args": {}, **extra}


def cmd_step(tmp_path: pathlib.Path, body: str) -> dict[str, Any]:
    name = f"step_{abs(hash(body))}.sh"
    return {
        "engine": "cmd",
        "command": script(tmp_path, name, "#!/bin/sh\n" + body, executable=True),
        "args": {},
    }


async def run(
    graph: Graph,
    workdir: pathlib.Path,
    tiles: list[Tile] | None = None,
    config: dict[str, str] | None = None,
    options: RunOptions | None = None,
) -> GraphResult:
    return await asyncio.wait_for(
        run_graph(graph, config or {}, tiles or [make_tile()], workdir, options), TIMEOUT
    )


async def test_success_runs_in_the_workdir_with_the_merged_config(
    tmp_path: pathlib.Path, workdir: pathlib.Path
) -> None:
    step = python_step(
        tmp_path,
        """
        import pathlib, sys
        pathlib.Path("args.txt").write_text("\\n".join([sys.executable, *sys.argv[1:]]))
        print("ERROR: a remembered line does not matter when the step succeeds")
    """,
    )
    step["args"] = {
        "a": {"type": "config", "value": "a"},
        "b": {"type": "config", "value": "b"},
        "workdir": {"type": "config", "value": "workdir"},
        "out": {"type": "out", "layer": "x", "extension": "tif"},
    }
    graph = graph_with(tmp_path, [step], config={"a": "graph", "b": "graph"})
    result = await run(graph, workdir, config={"b": "item"})
    assert result.error is None
    assert (workdir / "args.txt").read_text().splitlines() == [
        sys.executable,
        "--a=graph",
        "--b=item",
        f"--workdir={workdir.resolve()}",
        "--out=20190115_A44_IW1_1561_x.tif",
    ]


@pytest.mark.parametrize(
    ("body", "fatal", "temporary", "tail"),
    [
        (
            'print("FATAL ERROR: no product"); raise SystemExit(1)',
            True,
            False,
            "exit status 1\n FATAL ERROR: no product",
        ),
        (
            'raise Exception("FATAL ERROR: corrupt")',
            True,
            False,
            "exit status 1\n Exception: FATAL ERROR: corrupt",
        ),
        (
            'print("ERROR: Temporary failure in name resolution"); raise SystemExit(2)',
            False,
            True,
            "exit status 2\n ERROR: Temporary failure in name resolution",
        ),
        (
            'print("ERROR: connection timed out", file=__import__("sys").stderr); raise SystemExit(1)',
            False,
            True,
            "exit status 1\n ERROR: connection timed out",
        ),
        (
            'print("  ERROR: bad input"); print("all good"); raise SystemExit(1)',
            False,
            False,
            "exit status 1\n   ERROR: bad input",
        ),
        ('print("something else"); raise SystemExit(3)', False, False, "exit status 3"),
    ],
)
async def test_python_classification(
    tmp_path: pathlib.Path, workdir: pathlib.Path, body: str, fatal: bool, temporary: bool, tail: str
) -> None:
    step = python_step(tmp_path, body)
    step["args"] = {"x": {"type": "fixed", "value": "1"}}
    graph = graph_with(tmp_path, [step])
    result = await run(graph, workdir)
    assert result.error is not None
    assert (result.error.fatal, result.error.temporary) == (fatal, temporary)
    script_path = tmp_path / "graphs" / step["command"]
    assert result.error.message == f"process[ {sys.executable} {script_path} --x=1]: {tail}"


@pytest.mark.parametrize(
    ("body", "fatal", "temporary", "tail"),
    [
        ("echo 'TEMPORARY ERROR: quota'; exit 1", False, True, "exit status 1 (TEMPORARY ERROR: quota)"),
        ("echo 'FATAL ERROR: bad tile' >&2; exit 1", True, False, "exit status 1 (FATAL ERROR: bad tile)"),
        ("echo 'ERROR: first'; echo 'ERROR: second'; exit 4", False, False, "exit status 4 (ERROR: second)"),
        (
            "echo 'FATAL ERROR: TEMPORARY ERROR: both'; exit 1",
            True,
            True,
            "exit status 1 (FATAL ERROR: TEMPORARY ERROR: both)",
        ),
        ("kill -9 $$", False, False, "signal: killed"),
    ],
)
async def test_cmd_classification(
    tmp_path: pathlib.Path, workdir: pathlib.Path, body: str, fatal: bool, temporary: bool, tail: str
) -> None:
    graph = graph_with(tmp_path, [cmd_step(tmp_path, body)])
    result = await run(graph, workdir)
    assert result.error is not None
    assert (result.error.fatal, result.error.temporary) == (fatal, temporary)
    assert result.error.message.endswith(f"]: {tail}")


async def test_python_shebang_scripts_run_directly(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    name = script(
        tmp_path,
        "direct.py",
        "#!/usr/bin/env python3\nimport sys\nprint('FATAL ERROR: ran', sys.argv[1:])\nsys.exit(1)\n",
        executable=True,
    )
    graph = graph_with(
        tmp_path, [{"engine": "python", "command": name, "args": {"a": {"type": "fixed", "value": "b"}}}]
    )
    result = await run(graph, workdir)
    assert result.error is not None and result.error.fatal
    assert result.error.message == (
        f"process[ {tmp_path / 'graphs' / 'direct.py'} --a=b]: exit status 1\n FATAL ERROR: ran ['--a=b']"
    )


async def test_steps_stop_at_the_first_failure_and_honour_conditions(
    tmp_path: pathlib.Path, workdir: pathlib.Path
) -> None:
    steps = [
        python_step(tmp_path, 'open("skipped", "w")', condition="different_T0_T1"),
        python_step(tmp_path, 'open("first", "w")'),
        python_step(tmp_path, "raise SystemExit(1)"),
        python_step(tmp_path, 'open("never", "w")'),
    ]
    result = await run(graph_with(tmp_path, steps), workdir)
    assert result.error is not None
    assert sorted(p.name for p in workdir.iterdir()) == ["first"]


async def test_long_lines_are_clipped(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    # Without clipping, the tail of the long line would be remembered (and make the error fatal).
    body = 'print("ERROR: " + "y" * 100); print("x" * 300_000 + "FATAL ERROR: hidden"); raise SystemExit(1)'
    step = python_step(tmp_path, body)
    result = await run(graph_with(tmp_path, [step]), workdir, options=RunOptions(max_line_bytes=1000))
    assert result.error is not None
    assert result.error.message.endswith("\n ERROR: " + "y" * 100)
    assert not result.error.fatal


async def test_render_error_fails_the_run(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    step = python_step(tmp_path, 'open("ran", "w")')
    step["args"] = {"k": {"type": "config", "value": "missing"}}
    result = await run(graph_with(tmp_path, [step]), workdir)
    assert result.error is not None
    assert (result.error.message, result.error.fatal, result.error.temporary) == (
        "key 'missing' not found in config",
        False,
        False,
    )
    assert not (workdir / "ran").exists()


async def test_unavailable_engines_and_commands_are_fatal(
    tmp_path: pathlib.Path, workdir: pathlib.Path
) -> None:
    docker = graph_with(tmp_path, [{"engine": "docker", "command": "alpine:3", "args": {}}])
    result = await run(docker, workdir)
    assert result.error is not None and result.error.fatal
    assert result.error.message == "engine docker needs a Docker engine (not configured)"

    script(tmp_path, "g.xml", "<graph/>")
    snap = graph_with(tmp_path, [{"engine": "snap", "command": "g.xml", "args": {}}])
    missing_gpt = tmp_path / "no" / "gpt"
    result = await run(snap, workdir, options=RunOptions(snap_gpt=missing_gpt))
    assert result.error is not None and result.error.fatal
    assert result.error.message.startswith(f"SNAP not found: {missing_gpt} (step g.xml runs ESA SNAP's gpt;")
    assert "install ESA SNAP" in result.error.message

    missing = graph_with(tmp_path, [{"engine": "python", "command": "python/erodeMask.py", "args": {}}])
    result = await run(missing, workdir)
    assert result.error is not None and result.error.fatal
    assert result.error.message.startswith("Command not found: python/erodeMask.py")


@pytest.mark.parametrize(
    ("line", "temporary"), [("Error: [NodeId: Read] Try again later", True), ("Error: no such band", False)]
)
async def test_snap_with_a_gpt(
    tmp_path: pathlib.Path, workdir: pathlib.Path, line: str, temporary: bool
) -> None:
    gpt = tmp_path / "snap" / "gpt"
    gpt.parent.mkdir()
    gpt.write_text(f"#!/bin/sh\necho \"$@\" > args.txt\necho '{line}'\nexit 1\n")
    gpt.chmod(0o755)
    script(tmp_path, "g.xml", "<graph/>")
    graph = graph_with(
        tmp_path,
        [{"engine": "snap", "command": "g.xml", "args": {"input": {"type": "fixed", "value": "a b"}}}],
        config={"snap_cpu_parallelism": "4"},
    )
    result = await run(graph, workdir, options=RunOptions(snap_gpt=gpt))
    assert result.error is not None
    assert (result.error.fatal, result.error.temporary) == (False, temporary)
    assert result.error.message.endswith(f"]: exit status 1 ({line})")
    assert (
        workdir / "args.txt"
    ).read_text() == f"{tmp_path / 'graphs' / 'g.xml'} -x -q 4 -J-Xmx9000m -Pinput=a b\n"


# Out-file selection (spec §6.5) -------------------------------------------------------------------------

SELECTION: list[list[dict[str, Any]]] = [
    [
        {"layer": "always", "extension": "tif", "action": "to_index"},
        {"layer": "later", "extension": "tif", "action": "to_index", "condition": "different_T0_T1"},
        {"layer": "made", "extension": "tif", "action": "to_create", "condition": "file_exists"},
        {"layer": "absent", "extension": "tif", "action": "to_create", "condition": "file_exists"},
        {
            "layer": "product",
            "extension": "SAFE",
            "action": "to_delete",
            "error_condition": "on_fatal_failure",
        },
        {"layer": "failed", "action": "to_create", "condition": "on_failure"},
        {"layer": "fatal", "action": "to_create", "condition": "on_fatal_failure"},
        {
            "layer": "later_fatal",
            "extension": "dim",
            "action": "to_delete",
            "condition": "different_T0_T1",
            "error_condition": "on_fatal_failure",
        },
    ],
    [
        {
            "layer": "previous",
            "extension": "dim",
            "action": "to_delete",
            "condition": "different_T1_T2",
            "error_condition": "on_failure",
        },
    ],
    [],
]


def kept(result: GraphResult) -> list[tuple[int, str]]:
    return [(slot, f.layer) for slot, f in result.out_files]


@pytest.mark.parametrize(
    ("body", "retriable", "expected"),
    [
        (
            'open("20190115_A44_IW1_1561_made.tif", "w")',
            False,
            [(0, "always"), (0, "later"), (0, "made"), (0, "product"), (0, "later_fatal"), (1, "previous")],
        ),
        # Not in "retriable errors" mode: any failure counts as fatal for the selection.
        (
            "raise SystemExit(1)",
            False,
            [(0, "product"), (0, "failed"), (0, "fatal"), (0, "later_fatal"), (1, "previous")],
        ),
        ("raise SystemExit(1)", True, [(0, "failed"), (1, "previous")]),
        (
            'print("FATAL ERROR: x"); raise SystemExit(1)',
            True,
            [(0, "product"), (0, "failed"), (0, "fatal"), (0, "later_fatal"), (1, "previous")],
        ),
    ],
)
async def test_out_file_selection(
    tmp_path: pathlib.Path, workdir: pathlib.Path, body: str, retriable: bool, expected: list[tuple[int, str]]
) -> None:
    graph = graph_with(tmp_path, [python_step(tmp_path, body)], SELECTION, retriable=retriable)
    tiles = [make_tile(), make_tile("S1A_previous", day=9), make_tile("S1A_reference", day=3)]
    result = await run(graph, workdir, tiles)
    assert kept(result) == expected


async def test_selection_with_root_tiles(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    graph = graph_with(tmp_path, [], SELECTION)
    # One tile (a scene graph): T1 = T2 = T0 for conditions, and slot 1 has no tile.
    assert kept(await run(graph, workdir, [make_tile()])) == [(0, "always"), (0, "product")]
    tile = make_tile()
    assert kept(await run(graph, workdir, [tile, tile, tile])) == [(0, "always"), (0, "product")]


async def test_dformat_out(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    out_files: list[list[dict[str, Any]]] = [
        [
            {"layer": "a", "action": "to_index", "dformat_out": {"type": "config", "value": "dformat_out"}},
            {
                "layer": "b",
                "action": "to_index",
                "datatype": "int16",
                "nodata": 5,
                "dformat_out": {"type": "fixed", "value": "Int16,0,0,32767"},
            },
            {
                "layer": "c",
                "action": "to_index",
                "datatype": "f8",
                "nodata": -1,
                "min_value": 2,
                "max_value": 3,
            },
        ]
    ]
    graph = graph_with(tmp_path, [], out_files, config={"dformat_out": "uint16,NaN,0,32767"})
    result = await run(graph, workdir)
    assert result.error is None
    a, b, c = (f for _, f in result.out_files)
    assert (a.datatype, a.min_value, a.max_value) == (DType.UINT16, 0, 32767) and math.isnan(a.nodata)
    assert (b.datatype, b.nodata, b.min_value, b.max_value) == (DType.INT16, 0, 0, 32767)
    assert (c.datatype, c.nodata, c.min_value, c.max_value) == (DType.FLOAT64, -1, 2, 3)

    for bad in ("float32,0,0", "float32,zero,0,1", "float32,0,0,1,2"):
        result = await run(graph, workdir, config={"dformat_out": bad})
        assert result.error is not None
        assert f"invalid dformat_out [{bad}]" in result.error.message
        assert result.out_files == []  # nothing of this graph is selected on failure


def write_band(path: pathlib.Path, value: int) -> None:
    """A small JPEG 2000 band, lossless so that the pixel values tell which band a file came from."""
    with rasterio.open(
        path,
        "w",
        driver="JP2OpenJPEG",
        width=16,
        height=16,
        count=1,
        dtype="uint16",
        crs="EPSG:32632",
        transform=Affine(60, 0, 600000, 0, -60, 6300000),
        REVERSIBLE="YES",
        QUALITY=100,
    ) as dst:
        dst.write(np.full((1, 16, 16), value, dtype="uint16"))


async def test_extract_s2_bands_for_real(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    scene_id = "S2A_MSIL1C_20220104T103421_N0301_R108_T32VNH_20220104T123507"
    img_data = workdir / f"{scene_id}.SAFE" / "GRANULE" / "L1C_T32VNH_A034088_20220104T103418" / "IMG_DATA"
    img_data.mkdir(parents=True)
    bands = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
    for band in bands:
        write_band(img_data / f"T32VNH_20220104T103421_{band}.jp2", bands.index(band) + 1)
    (img_data / "T32VNH_20220104T103421_TCI.jp2").write_bytes(b"not a band")

    scene = Scene(
        id=1, source_id=scene_id, aoi="a", data=SceneAttrs(date=dt.datetime(2022, 1, 4, 10, tzinfo=UTC))
    )
    tile = Tile(id=1, source_id=scene_id, scene=scene, data=TileAttrs())
    graph = load_graph("library/graph/ExtractS2Bands.json", [], retriable=True)
    result = await asyncio.wait_for(run_graph(graph, None, [tile, tile, tile], workdir), TIMEOUT)
    assert result.error is None
    produced = sorted(p.name for p in workdir.glob("*.tif"))
    assert produced == sorted(f"20220104_{scene_id}_{band}.tif" for band in bands)
    with rasterio.open(workdir / f"20220104_{scene_id}_B8A.tif") as src:
        assert int(src.read(1)[0, 0]) == bands.index("B8A") + 1
    selected = [f for _, f in result.out_files]
    assert [f.layer for f in selected] == [b for b in bands if b != "B8A"] + ["__product__"]
    b01 = selected[0]
    assert (b01.action, b01.datatype, b01.min_value, b01.max_value, b01.ext_max_value) == (
        Action.TO_INDEX,
        DType.UINT16,
        0,
        32767,
        1,
    )
    assert math.isnan(b01.nodata)
    assert selected[-1] == OutFile(
        "__product__", "SAFE", Action.TO_DELETE, error_condition=Condition.ON_FATAL_FAILURE
    )


async def test_extract_s2_bands_without_product_is_fatal(workdir: pathlib.Path) -> None:
    tile = make_tile("S2A_MSIL1C_20220104T103421_N0301_R108_T32VNH_20220104T123507")
    graph = load_graph("library/graph/ExtractS2Bands.json", [], retriable=True)
    result = await asyncio.wait_for(run_graph(graph, {}, [tile], workdir), TIMEOUT)
    assert result.error is not None and result.error.fatal and not result.error.temporary
    assert "FATAL ERROR: no .SAFE product found" in result.error.message
    # The product zip is deleted after a fatal failure: retrying cannot help.
    assert [(slot, f.layer, f.action) for slot, f in result.out_files] == [
        (0, "__product__", Action.TO_DELETE)
    ]

    (workdir / f"{tile.scene.source_id}.SAFE" / "GRANULE").mkdir(parents=True)
    result = await asyncio.wait_for(run_graph(graph, {}, [tile], workdir), TIMEOUT)
    assert result.error is not None and result.error.fatal
    assert "FATAL ERROR: no band found" in result.error.message


async def test_cancelling_a_run_kills_the_step(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    step = cmd_step(tmp_path, "echo $$ > pid; sleep 30 & wait")
    task = asyncio.create_task(run(graph_with(tmp_path, [step]), workdir))
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not (workdir / "pid").exists() or not (workdir / "pid").read_text().strip():
        assert asyncio.get_running_loop().time() < deadline, "the step never started"
        await asyncio.sleep(0.01)
    pid = int((workdir / "pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: the whole process group was killed, not left running


async def test_scene_graph_then_tile_graph_through_storage(tmp_path: pathlib.Path) -> None:
    """The downloader's CopyProductToStorage, then the processor's ExtractS2Bands, through a real storage."""
    scene_id = "S2B_MSIL1C_20220104T103421_N0301_R108_T32VNH_20220104T123507"
    scene = Scene(
        id=1, source_id=scene_id, aoi="denmark", data=SceneAttrs(date=dt.datetime(2022, 1, 4, tzinfo=UTC))
    )
    tile = Tile(id=1, source_id=scene_id, scene=scene, data=TileAttrs())
    storage = open_storage(str(tmp_path / "storage"))
    download_dir, process_dir = tmp_path / "download", tmp_path / "process"
    img_data = download_dir / f"{scene_id}.SAFE" / "GRANULE" / "L1C" / "IMG_DATA"
    img_data.mkdir(parents=True)
    for value, band in enumerate(("B02", "B03")):
        write_band(img_data / f"T32VNH_{band}.jp2", value)

    scene_graph = load_graph("CopyProductToStorage", [], False)
    result = await asyncio.wait_for(run_graph(scene_graph, {}, [tile], download_dir), TIMEOUT)
    assert result.error is None
    for _, out_file in result.out_files:
        assert out_file.action is Action.TO_CREATE
        layers.save_layer(storage, download_dir, tile, out_file.layer, out_file.extension)

    process_dir.mkdir()
    tile_graph = load_graph("library/graph/ExtractS2Bands.json", [], True)
    tiles = [tile, tile, tile]
    for in_tile, in_file in input_files(tile_graph, tiles):
        layers.import_layer(storage, process_dir, in_tile, in_file.layer, in_file.extension)
    result = await asyncio.wait_for(run_graph(tile_graph, {}, tiles, process_dir), TIMEOUT)
    assert result.error is None
    uris = []
    for slot, out_file in result.out_files:
        if (
            out_file.action is Action.TO_INDEX
            and (process_dir / f"20220104_{scene_id}_{out_file.layer}.tif").exists()
        ):
            uris.append(
                layers.save_layer(storage, process_dir, tiles[slot], out_file.layer, out_file.extension)
            )
        elif out_file.action is Action.TO_DELETE:
            layers.delete_layer(storage, tiles[slot], out_file.layer, out_file.extension)
    prefix = f"{tmp_path}/storage/denmark/{scene_id}/tiles/{scene_id}"
    assert uris == [f"{prefix}/20220104_{scene_id}_B02.tif", f"{prefix}/20220104_{scene_id}_B03.tif"]
    assert sorted(p.name for p in pathlib.Path(prefix).iterdir()) == [
        f"20220104_{scene_id}_B02.tif",
        f"20220104_{scene_id}_B03.tif",
    ]  # the product zip is deleted
