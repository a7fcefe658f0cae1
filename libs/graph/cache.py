"""Graphs parsed once per file version, not once per task.

A worker runs the same few graphs for thousands of tasks; resolving a name (a stat per candidate folder
and a `resolve()` of the winner), reading and parsing its JSON cost ~70-80 µs of CPU each time, in a
thread hop of its own (docs/benchmarks.md, 2026-12-04). The cache answers from memory, on the event loop,
while an entry is younger than `revalidate` seconds; after that the name is resolved again and the file's
identity (inode, size, modification and change times) compared, and the graph parsed again only when
it changed. A graph edited (or shadowed by a new file in an earlier folder) is therefore seen within
`revalidate` seconds: the same as if the task had been leased that much earlier.

Only graphs without steps are kept: a step's script is looked up when the graph is parsed
(`Step.command_path`), so a kept graph would miss a script installed, removed or shadowed after it was
parsed; and a graph that runs steps spends seconds in them, not microseconds parsing. Failures are not
kept either: a missing or broken graph is looked up again by the next task (and reported with the same
message as `load_graph`'s).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import threading
import time
from collections.abc import Callable, Sequence

from libs.graph.loader import read_graph_file, resolve_graph_file
from libs.graph.model import Graph

REVALIDATE_SECONDS = 1.0
_MAX_ENTRIES = 256  # graph names come from payloads: bounded, the oldest entries go first


@dataclasses.dataclass(frozen=True)
class _Entry:
    graph: Graph
    identity: tuple[int, int, int, int] | None
    checked: float  # clock() when the file was last seen unchanged


def _identity(path: pathlib.Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone meanwhile: the read reports it as load_graph would
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class GraphCache:
    def __init__(
        self,
        graph_path: Sequence[pathlib.Path],
        revalidate: float = REVALIDATE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._graph_path = list(graph_path)
        self._revalidate = revalidate
        self._clock = clock
        self._entries: dict[tuple[str, bool], _Entry] = {}
        self._lock = threading.Lock()  # load() runs in threads

    def cached(self, name: str, retriable: bool) -> Graph | None:
        """The graph if an entry checked less than `revalidate` seconds ago holds it; no I/O."""
        entry = self._entries.get((name, retriable))
        if entry is None or self._clock() - entry.checked >= self._revalidate:
            return None
        return entry.graph

    def load(self, name: str, retriable: bool) -> Graph:
        """Blocking: resolves `name` and parses its file unless the cached version is still current.
        Raises as `load_graph` does."""
        path = resolve_graph_file(name, self._graph_path)
        # Taken before the read: a change during the read leaves an older identity, so the next check
        # reloads; never a new identity beside old contents.
        identity = _identity(path)
        key = (name, retriable)
        entry = self._entries.get(key)
        if entry is None or identity is None or entry.graph.path != path or entry.identity != identity:
            graph = read_graph_file(name, path, self._graph_path, retriable)
            if graph.steps:
                return graph  # its scripts are resolved at parse time: parsed again for every task
            entry = _Entry(graph, identity, self._clock())
        else:
            entry = dataclasses.replace(entry, checked=self._clock())
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry  # last in insertion order: the newest
            while len(self._entries) > _MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]
        return entry.graph

    async def get(self, name: str, retriable: bool) -> Graph:
        """`cached()` on the event loop, else `load()` in a thread."""
        graph = self.cached(name, retriable)
        if graph is not None:
            return graph
        return await asyncio.to_thread(self.load, name, retriable)
