"""The dformat_out conversion step (libs/graph/library/python/convert.py): exact values, nodata,
dtype, clipping, streaming by strips, COG output, and its use from a graph."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import pathlib
import tracemalloc

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from libs.domain.models import Scene, SceneAttrs, Tile, TileAttrs
from libs.graph import load_graph, run_graph
from libs.graph.library.python import convert
from tests.support import cog as validator

TRANSFORM = Affine(20, 0, 600_000, 0, -20, 5_000_000)


def write(path: pathlib.Path, pixels: np.ndarray, nodata: float | None) -> pathlib.Path:
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    with rasterio.open(
        path, "w", driver="GTiff", width=pixels.shape[2], height=pixels.shape[1], count=pixels.shape[0],
        dtype=pixels.dtype, crs="EPSG:32631", transform=TRANSFORM, nodata=nodata,
    ) as dataset:  # fmt: skip
        dataset.write(pixels)
    return path


def run(
    tmp_path: pathlib.Path, pixels: np.ndarray, nodata: float | None, range_in: str, dformat: str
) -> np.ndarray:
    source = write(tmp_path / "in.tif", pixels, nodata)
    target = tmp_path / "out.tif"
    assert (
        convert.main(
            [
                f"--file-in={source}",
                f"--file-out={target}",
                f"--range-in={range_in}",
                f"--dformat-out={dformat}",
            ]
        )
        == 0
    )
    validator.assert_cog(target)
    with rasterio.open(target) as dataset:
        return dataset.read(1)


def test_rescale_to_bytes_with_nodata_rounding_and_clipping(tmp_path: pathlib.Path) -> None:
    pixels = np.array([[0.0, 1.0, 0.5, 0.25, 0.75, -0.5, 2.0, -9999.0, np.nan, np.inf]], dtype="float32")
    out = run(tmp_path, pixels, -9999, "0,1", "uint8,0,1,255")
    # 1 + v × 254: 0.25 → 64.5 and 0.75 → 191.5 round half to even; -0.5 and 2 are clipped; the input
    # nodata, NaN and inf are the output nodata.
    assert out.dtype == np.uint8
    assert out.tolist() == [[1, 255, 128, 64, 192, 1, 255, 0, 0, 0]]
    with rasterio.open(tmp_path / "out.tif") as dataset:
        assert dataset.nodata == 0 and dataset.crs.to_epsg() == 32631 and dataset.transform == TRANSFORM


def test_rescale_to_floats_with_a_nan_nodata(tmp_path: pathlib.Path) -> None:
    pixels = np.array([[0, 1, 5000, 10000, 12000, 2500]], dtype="uint16")
    out = run(tmp_path, pixels, 0, "0,10000", "float32,NaN,0,1")
    assert out.dtype == np.float32
    assert math.isnan(out[0, 0])  # the input nodata
    np.testing.assert_array_equal(out[0, 1:], np.array([1e-4, 0.5, 1.0, 1.0, 0.25], dtype="float32"))
    with rasterio.open(tmp_path / "out.tif") as dataset:
        assert dataset.nodata is not None and math.isnan(dataset.nodata)


def test_rescale_to_signed_integers_and_an_inverted_range(tmp_path: pathlib.Path) -> None:
    pixels = np.array([[-1.0, 0.0, 1.0, 0.5, 3.0]], dtype="float64")
    assert run(tmp_path, pixels, None, "-1,1", "int16,-32768,-1000,1000").tolist() == [
        [-1000, 0, 1000, 500, 1000]
    ]
    # range-in max,min maps the input's maximum onto the output's minimum.
    assert run(tmp_path, pixels, None, "1,-1", "int16,-32768,-1000,1000").tolist() == [
        [1000, 0, -1000, -500, -1000]
    ]


def test_in_place_multiband_and_strip_boundaries(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large image converted in place (as the reference's S1 graphs call it), strips of 7 rows."""
    rng = np.random.default_rng(3)
    pixels = rng.uniform(-0.1, 1.1, (2, 600, 530)).astype("float32")
    pixels[1, 100:300, 50:60] = -1
    path = write(tmp_path / "sigma0.tif", pixels, -1)
    monkeypatch.setattr(convert, "STRIP_ROWS", 7)
    convert.convert(path, path, (0.0, 1.0), convert.DFormat.parse("uint16,0,1,65535"))
    report = validator.assert_cog(path)
    assert report.overview_sizes == [(265, 300)]
    expected = np.rint(np.clip(pixels.astype("float64") * 65534 + 1, 1, 65535)).astype("uint16")
    expected[pixels == -1] = 0
    with rasterio.open(path) as dataset:
        assert (dataset.count, dataset.dtypes, dataset.nodata) == (2, ("uint16", "uint16"), 0)
        np.testing.assert_array_equal(dataset.read(), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sigma0.tif"]  # no strips file left


def test_a_band_is_converted_strip_by_strip(tmp_path: pathlib.Path) -> None:
    """Python-side memory stays a few strips (~15 MB here), below one float64 copy of the band (32 MB);
    reading the whole band at once peaks at 60 MB."""
    pixels = np.random.default_rng(4).integers(0, 10001, (2000, 2000), dtype="uint16")
    source = write(tmp_path / "in.tif", pixels, 0)
    del pixels
    tracemalloc.start()
    try:
        convert.convert(source, tmp_path / "out.tif", (0, 10000), convert.DFormat.parse("float32,NaN,0,1"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2000 * 2000 * 8, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("range_in", "dformat", "message"),
    [
        ("0,1", "uint16,NaN,0,32767", "uint16 cannot hold a NaN nodata"),
        ("0,1", "uint8,0,0,300", "300 outside uint8"),
        ("0,1", "float32,0,1", "expecting dtype,nodata,min,max"),
        ("0,1", "complex64,0,0,1", "unsupported dtype complex64"),
        ("0,1", "float32,0,1,0", "min > max"),
        ("1,1", "float32,0,0,1", "two different finite numbers"),
        ("0", "float32,0,0,1", "expecting min,max"),
    ],
)
def test_invalid_arguments_are_fatal(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], range_in: str, dformat: str, message: str
) -> None:
    source = write(tmp_path / "in.tif", np.zeros((4, 4), dtype="float32"), None)
    args = [f"--file-in={source}", f"--file-out={tmp_path / 'out.tif'}", f"--range-in={range_in}"]
    assert convert.main([*args, f"--dformat-out={dformat}"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("FATAL ERROR: ") and message in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


async def test_the_step_in_a_graph(tmp_path: pathlib.Path) -> None:
    """`python/convert.py` resolves to the library's script from any graph folder, with the reference's
    arguments; a failure is classified by its output (FATAL ERROR → fatal)."""
    step = {
        "engine": "python",
        "command": "python/convert.py",
        "args": {
            "file-in": {"type": "out", "layer": "sigma0_VV", "extension": "tif"},
            "file-out": {"type": "out", "layer": "sigma0_VV", "extension": "tif"},
            "range-in": {"type": "fixed", "value": "0,1"},
            "dformat-out": {"type": "config", "value": "dformat_out"},
        },
        "condition": "pass",
    }
    out_file = {
        "layer": "sigma0_VV",
        "extension": "tif",
        "action": "to_index",
        "dformat_out": {"type": "config", "value": "dformat_out"},
    }
    graph_file = tmp_path / "graphs" / "Convert.json"
    graph_file.parent.mkdir()
    graph_file.write_text(
        json.dumps(
            {
                "config": {"dformat_out": "uint8,0,1,255"},
                "processing_steps": [step],
                "out_files": [[out_file]],
            }
        )
    )
    graph = load_graph("Convert.json", [graph_file.parent], retriable=True)
    scene = Scene(
        id=1, source_id="S1A_x", aoi="a", data=SceneAttrs(date=dt.datetime(2019, 1, 3, tzinfo=dt.UTC))
    )
    tile = Tile(id=1, source_id="A44_IW1_1561", scene=scene, data=TileAttrs())
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = write(
        workdir / "20190103_A44_IW1_1561_sigma0_VV.tif", np.array([[0.0, 0.5, 1.0]], dtype="float32"), None
    )

    result = await asyncio.wait_for(run_graph(graph, None, [tile], workdir), 60)
    assert result.error is None
    with rasterio.open(path) as dataset:
        assert dataset.read(1).tolist() == [[1, 128, 255]]
    assert [(f.layer, f.datatype.value, f.nodata, f.max_value) for _, f in result.out_files] == [
        ("sigma0_VV", "uint8", 0, 255)
    ]

    result = await asyncio.wait_for(run_graph(graph, {"dformat_out": "uint16,NaN,0,1"}, [tile], workdir), 60)
    assert result.error is not None and result.error.fatal
    assert "FATAL ERROR: invalid dformat-out [uint16,NaN,0,1]" in result.error.message
