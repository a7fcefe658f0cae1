"""Loading JSON graphs (spec §6.1, §6.2): name resolution, parsing, load-time errors."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from libs.graph import load_graph, snap
from libs.graph.loader import LIBRARY_DIR
from libs.graph.model import Action, ArgType, Condition, DType, Engine
from libs.runtime.errors import InvalidArgument

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "reference"
LIBRARY_FIXTURES = [
    "Pass.json",
    "CopyProductToStorage.json",
    "ExtractS2Bands.json",
    "S1CoregExtract.json",
    "S1BackscatterCoherence.json",
]


def write_graph(folder: pathlib.Path, name: str, document: Any) -> pathlib.Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.mark.parametrize("name", LIBRARY_FIXTURES)
def test_every_reference_library_graph_loads(name: str) -> None:
    graph = load_graph(str(FIXTURES / name), [FIXTURES], retriable=False)
    assert len(graph.in_files) == len(graph.out_files) == 3
    assert graph.path == FIXTURES / name


def test_s1_graphs_with_snap_steps_load_without_snap() -> None:
    graph = load_graph(str(FIXTURES / "S1BackscatterCoherence.json"), [FIXTURES], retriable=True)
    assert graph.retriable
    assert len(graph.steps) == 13
    assert [s.engine for s in graph.steps].count(Engine.SNAP) == 5
    assert graph.steps[0].command == "snap/S1_SLC_BkG.xml"
    assert graph.steps[0].command_path is None  # not installed here: the step fails when it runs
    assert graph.steps[1].condition is Condition.DIFFERENT_T0_T1
    master = graph.steps[0].args["master"]
    assert (master.type, master.tile_index, master.layer, master.extension) == (
        ArgType.IN,
        2,
        "preprocessed",
        "dim",
    )
    assert graph.in_files[1][0].condition is Condition.DIFFERENT_T1_T2
    coh = graph.out_files[0][2]
    assert (coh.layer, coh.action, coh.condition) == ("coh_VV", Action.TO_INDEX, Condition.DIFFERENT_T0_T1)
    assert (coh.ext_min_value, coh.ext_max_value, coh.exponent, coh.nbands) == (0, 1, 1, 1)


def test_bundled_library_matches_the_reference() -> None:
    for name in ("Pass.json", "CopyProductToStorage.json"):
        ours = json.loads((LIBRARY_DIR / name).read_text())
        assert ours == json.loads((FIXTURES / name).read_text())
    # ExtractS2Bands differs only as docs/compatibility.md S11 says: COG bands (.tif), a compression setting.
    expected = json.loads((FIXTURES / "ExtractS2Bands.json").read_text().replace('"jp2"', '"tif"'))
    expected["config"]["cog_compress"] = "DEFLATE"
    expected["processing_steps"][0]["args"]["compress"] = {"type": "config", "value": "cog_compress"}
    assert json.loads((LIBRARY_DIR / "ExtractS2Bands.json").read_text()) == expected


def test_library_names() -> None:
    assert load_graph("Pass", [], False).path == LIBRARY_DIR / "Pass.json"
    copy = load_graph("CopyProductToStorage", [], False)
    assert copy.path == LIBRARY_DIR / "CopyProductToStorage.json"
    product = copy.out_files[0][0]
    assert (product.layer, product.extension, product.action) == ("__product__", "*", Action.TO_CREATE)
    # The demo payloads of the reference name the library this way.
    extract = load_graph("library/graph/ExtractS2Bands.json", [], False)
    assert extract.path == LIBRARY_DIR / "ExtractS2Bands.json"
    assert extract.steps[0].command_path == LIBRARY_DIR / "python" / "extract_s2.py"
    assert load_graph("ExtractS2Bands.json", [], False).path == LIBRARY_DIR / "ExtractS2Bands.json"


def test_graph_path_folders_come_before_the_library(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_graph(second, "library/Pass.json", {"processing_steps": [], "config": {"from": "second"}})
    write_graph(second, "mine/G.json", {"processing_steps": []})
    assert load_graph("Pass", [first, second], False).config == {"from": "second"}
    assert load_graph("mine/G.json", [first, second], False).path == second / "mine" / "G.json"
    absolute = write_graph(tmp_path, "abs.json", {"out_files": []})
    assert load_graph(str(absolute), [tmp_path], False).path == absolute
    assert load_graph(f"file://{absolute}", [tmp_path], False).path == absolute
    # Outside the graph folders (directly or through a symlink), an absolute name is refused.
    with pytest.raises(InvalidArgument, match="outside the graph folders"):
        load_graph(str(absolute), [first], False)
    (first / "link.json").parent.mkdir(parents=True, exist_ok=True)
    (first / "link.json").symlink_to(absolute)
    with pytest.raises(InvalidArgument, match="outside the graph folders"):
        load_graph(str(first / "link.json"), [first], False)
    # Relative names too: encoded dots are decoded before the check, symlinks resolved.
    for sneaky in ("file:%2e%2e/abs.json", "file:first/%2E%2E/abs.json", "../abs.json"):
        with pytest.raises(InvalidArgument, match=r"must not contain '\.\.'"):
            load_graph(sneaky, [first], False)
    with pytest.raises(InvalidArgument, match="outside the graph folders"):
        load_graph("link.json", [first], False)


def test_missing_graph(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgument) as exc:
        load_graph("Nope.json", [tmp_path], False)
    assert exc.value.field == "graph_name"
    assert str(exc.value) == (
        "graph_name: graph Nope.json not found in the graph folders (GRAPH_PATH) and the bundled library"
    )
    # Messages reach clients: no server folder in them.
    assert str(tmp_path) not in str(exc.value) and str(LIBRARY_DIR) not in str(exc.value)


@pytest.mark.parametrize("name", ["../etc/passwd", "library/../../x.json", "a/..", "..", ""])
def test_names_cannot_climb(tmp_path: pathlib.Path, name: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        load_graph(name, [tmp_path], False)
    assert exc.value.field == "graph_name"


@pytest.mark.parametrize("name", ["S1Clean", "PhrProcessing", "SpotPreProcessing"])
def test_built_in_graphs_are_not_available_yet(name: str) -> None:
    with pytest.raises(InvalidArgument, match=f"built-in graph {name} is not available yet"):
        load_graph(name, [], False)


@pytest.mark.parametrize("name", ["S1Preprocessing", "S1BackscatterCoherence", "S1CoregExtract"])
def test_sentinel1_built_in_graphs_say_snap_is_missing_and_what_to_install(name: str) -> None:
    assert not snap.installed()  # this machine has no SNAP: the case the message is for
    with pytest.raises(InvalidArgument) as missing:
        load_graph(name, [], False)
    assert missing.value.field == "graph_name"
    assert missing.value.reason.startswith(f"SNAP not found: {snap.DEFAULT_GPT} (built-in graph {name} runs")
    assert "install ESA SNAP" in missing.value.reason and "Sentinel-1 Toolbox" in missing.value.reason


def test_unsupported_scheme() -> None:
    with pytest.raises(InvalidArgument, match="unsupported scheme 'gs'"):
        load_graph("gs://bucket/graph.json", [], False)


def test_json_errors_name_the_file(tmp_path: pathlib.Path) -> None:
    write_graph(tmp_path, "broken.json", '{"processing_steps": [,]}')
    with pytest.raises(InvalidArgument, match=r"LoadGraphFromFile\[broken.json\]: Expecting value"):
        load_graph("broken.json", [tmp_path], False)
    write_graph(tmp_path, "payload.json", {"name": "an AOI payload", "graph_config": {}})
    with pytest.raises(InvalidArgument, match="not a graph"):
        load_graph("payload.json", [tmp_path], False)


def _step(**overrides: Any) -> dict[str, Any]:
    return {"engine": "cmd", "command": "/bin/true", "args": {}, "condition": "pass", **overrides}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"processing_steps": [_step(condition="sometimes")]},
            r"unknown condition: sometimes \(must be one of \[pass different_T0_T1",
        ),
        # Steps accept tile conditions only.
        ({"processing_steps": [_step(condition="file_exists")]}, "unknown condition: file_exists"),
        ({"processing_steps": [_step(engine="podman")]}, "unknown engine: podman"),
        (
            {"processing_steps": [_step(args={"a": {"type": "tile_in"}})]},
            r"unknown type: tile_in \(must be one of fixed, config, tile, in, out\)",
        ),
        (
            {"processing_steps": [_step(args={"a": {"type": "tile", "value": "orbit"}})]},
            "key 'orbit' not found in tile",
        ),
        (
            {"processing_steps": [_step(args={"a": {"type": "in", "tile_index": 3}})]},
            "tile_index must be 0, 1 or 2",
        ),
        ({"out_files": [[{"layer": "x", "action": "to_burn"}]]}, "unknown action: to_burn"),
        ({"out_files": [[{"layer": "..x"}]]}, "layer: '..x' must not contain '..'"),
        ({"in_files": [[{"layer": "x", "extension": "a/b"}]]}, "extension: 'a/b' must not contain '/'"),
        ({"processing_steps": [_step(args={"o": {"type": "out", "layer": ""}})]}, "layer: must not be empty"),
        ({"out_files": [[{"layer": "x", "condition": "maybe"}]]}, "unknown condition: maybe"),
        (
            {"out_files": [[{"layer": "x", "dformat_out": {"type": "tile", "value": "date"}}]]},
            "dformat_out must be an arg of type fixed or config",
        ),
        ({"config": {"n": 3}, "out_files": []}, r"config\[n\]: expected a string"),
        ({"processing_steps": [_step(command="")]}, "missing or invalid command"),
    ],
)
def test_load_errors(tmp_path: pathlib.Path, document: dict[str, Any], message: str) -> None:
    write_graph(tmp_path, "g.json", document)
    with pytest.raises(InvalidArgument, match=message) as exc:
        load_graph("g.json", [tmp_path], False)
    # Named by file name only: the message reaches clients, the folder is the server's.
    assert "LoadGraphFromFile[g.json]" in str(exc.value) and str(tmp_path) not in str(exc.value)


def test_defaults(tmp_path: pathlib.Path) -> None:
    step = _step()
    del step["condition"]  # the reference crashes at run time; we default to pass
    write_graph(
        tmp_path,
        "g.json",
        {
            "config": None,
            "envs": ["A=1"],
            "processing_steps": [step],
            "in_files": [[{"layer": "a", "extension": "tif", "condition": "file_exists"}]],
            "out_files": [
                [
                    {"layer": "b", "condition": ""},
                    {
                        "layer": "c",
                        "datatype": "Byte",
                        "exponent": 2,
                        "nbands": 4,
                        "error_condition": "on_failure",
                    },
                ],
                [],
                [],
                [{"layer": "ignored"}],
            ],
        },
    )
    graph = load_graph("g.json", [tmp_path], False)
    assert graph.config == {}
    assert graph.envs == ["A=1"]
    assert graph.steps[0].condition is Condition.PASS
    assert graph.steps[0].command_path == pathlib.Path("/bin/true")
    assert graph.in_files[0][0].condition is Condition.FILE_EXISTS  # accepted, never imported
    assert len(graph.out_files) == 3
    b, c = graph.out_files[0]
    assert (b.action, b.condition, b.error_condition, b.extension, b.exponent, b.nbands) == (
        Action.TO_IGNORE,
        Condition.PASS,
        None,
        "",
        1.0,
        1,
    )
    assert (c.datatype, c.exponent, c.nbands, c.error_condition) == (
        DType.UINT8,
        2.0,
        4,
        Condition.ON_FAILURE,
    )


def test_commands_resolve_next_to_the_graph_then_in_graph_folders(tmp_path: pathlib.Path) -> None:
    graphs, tools = tmp_path / "graphs", tmp_path / "tools"
    write_graph(graphs, "sub/local.py", "print(1)")
    write_graph(tools, "sub/shared.py", "print(2)")
    write_graph(tools, "sub/local.py", "print(3)")
    write_graph(
        graphs,
        "sub/g.json",
        {
            "processing_steps": [
                {"engine": "python", "command": "local.py", "args": {}},
                {"engine": "python", "command": "sub/shared.py", "args": {}},
                {"engine": "python", "command": "python/extract_s2.py", "args": {}},
                {"engine": "docker", "command": "alpine:3", "args": {}},
            ]
        },
    )
    steps = load_graph("sub/g.json", [graphs, tools], False).steps
    assert steps[0].command_path == graphs / "sub" / "local.py"
    assert steps[1].command_path == tools / "sub" / "shared.py"
    assert steps[2].command_path == LIBRARY_DIR / "python" / "extract_s2.py"
    assert steps[3].command_path is None  # an image reference, not a file
