"""Graphs parsed once per file version (libs/graph/cache.py): what the workers see when a graph file
changes, disappears or is shadowed, and what they never see (a failure kept, a stale graph past the
revalidation delay)."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib

import pytest

from libs.graph.cache import GraphCache
from libs.runtime.errors import InvalidArgument


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def graph_document(layer: str) -> dict[str, object]:
    return {
        "config": {"layer": layer},
        "processing_steps": [],
        "in_files": [[], [], []],
        "out_files": [[{"layer": layer, "extension": "tif", "action": "to_create"}], [], []],
    }


def write(folder: pathlib.Path, name: str, layer: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(graph_document(layer)))
    return path


def touch_later(path: pathlib.Path) -> None:
    # Same size, a later modification time: what an editor saving in place leaves.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_graph_is_parsed_once_while_its_file_is_unchanged(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "G.json", "a")
    clock = Clock()
    cache = GraphCache([tmp_path], revalidate=1.0, clock=clock)
    assert cache.cached("G.json", False) is None  # nothing loaded yet
    first = cache.load("G.json", False)
    assert cache.cached("G.json", False) is first
    clock.now += 5  # past the delay: checked again, the same file, the same parsed graph
    assert cache.cached("G.json", False) is None
    assert cache.load("G.json", False) is first
    # The item's retriable flag is part of the graph: another entry.
    other = cache.load("G.json", True)
    assert other.retriable and not first.retriable


def test_an_edited_graph_is_seen_after_the_revalidation_delay(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "G.json", "a")
    clock = Clock()
    cache = GraphCache([tmp_path], revalidate=1.0, clock=clock)
    assert cache.load("G.json", False).config == {"layer": "a"}
    write(tmp_path, "G.json", "b")
    touch_later(path)
    # Within the delay the cached graph answers (as if the task had been leased a moment earlier)...
    stale = cache.cached("G.json", False)
    assert stale is not None and stale.config == {"layer": "a"}
    clock.now += 1.0
    # ...after it the file is checked and parsed again.
    assert cache.cached("G.json", False) is None
    assert cache.load("G.json", False).config == {"layer": "b"}


def test_a_graph_shadowed_by_an_earlier_folder_is_picked_up(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(second, "G.json", "second")
    clock = Clock()
    cache = GraphCache([first, second], revalidate=1.0, clock=clock)
    assert cache.load("G.json", False).config == {"layer": "second"}
    write(first, "G.json", "first")
    clock.now += 2
    graph = cache.load("G.json", False)
    assert graph.config == {"layer": "first"} and graph.path == first / "G.json"


def test_failures_are_not_kept(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    cache = GraphCache([tmp_path], revalidate=1.0, clock=clock)
    with pytest.raises(InvalidArgument, match="not found"):
        cache.load("G.json", False)
    (tmp_path / "G.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match=r"LoadGraphFromFile\[G\.json\]"):
        cache.load("G.json", False)
    assert cache.cached("G.json", False) is None
    # Fixed at once: the next task loads it, no delay to wait out.
    write(tmp_path, "G.json", "fixed")
    assert cache.load("G.json", False).config == {"layer": "fixed"}


def test_a_removed_graph_fails_after_the_delay(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "G.json", "a")
    clock = Clock()
    cache = GraphCache([tmp_path], revalidate=1.0, clock=clock)
    cache.load("G.json", False)
    path.unlink()
    clock.now += 1.5
    assert cache.cached("G.json", False) is None
    with pytest.raises(InvalidArgument, match="not found"):
        cache.load("G.json", False)


def test_get_answers_from_memory_then_loads_in_a_thread(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "G.json", "a")
    cache = GraphCache([tmp_path], revalidate=60.0)

    async def twice() -> tuple[object, object]:
        first = await cache.get("G.json", False)
        path.unlink()  # within the delay the second answer cannot have read the file
        return first, await cache.get("G.json", False)

    first, second = asyncio.run(twice())
    assert first is second


def test_a_graph_with_steps_is_parsed_for_every_task(tmp_path: pathlib.Path) -> None:
    """Its step's script is looked up when it is parsed: one installed later must be found at once."""
    document = graph_document("a")
    document["processing_steps"] = [{"engine": "python", "command": "step.py", "args": {}}]
    (tmp_path / "G.json").write_text(json.dumps(document))
    cache = GraphCache([tmp_path], revalidate=60.0)
    before = cache.load("G.json", False)
    assert before.steps[0].command_path is None  # not installed yet
    assert cache.cached("G.json", False) is None  # not kept
    (tmp_path / "step.py").write_text("print('ok')\n")
    after = cache.load("G.json", False)
    assert after.steps[0].command_path == tmp_path / "step.py"
