"""Running a processing graph on a working directory (spec §6.5).

Steps run one after the other as subprocesses (argument lists, never a shell) with the working
directory as cwd; their output is logged line by line and classified on failure (spec §7.3). The
out-files to upload, index or delete are then selected, on success and on failure alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pathlib
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from opentelemetry import trace

from libs.domain.models import Tile
from libs.graph import conditions, render, snap
from libs.graph.logfilter import TEMPORARY_ERRNOS, LogFilter, exit_text
from libs.graph.model import (
    Condition,
    ConditionKind,
    DType,
    Engine,
    Graph,
    GraphResult,
    InFile,
    OutFile,
    Step,
    StepError,
)
from libs.runtime.errors import InvalidArgument
from libs.storage import naming

logger = logging.getLogger(__name__)
# The API only: spans are recorded when the process configured a tracer provider (runtime/tracing.py).
tracer = trace.get_tracer(__name__)

DEFAULT_SNAP_GPT = snap.DEFAULT_GPT
_READ_CHUNK = 64 * 1024

__all__ = [
    "GraphResult",
    "RunOptions",
    "StepError",
    "effective_config",
    "input_files",
    "planned_commands",
    "run_graph",
]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    snap_gpt: pathlib.Path = DEFAULT_SNAP_GPT  # SNAP's graph processing tool (reference: env SNAPPATH)
    max_line_bytes: int = 64 * 1024  # longer output lines are clipped (they are only logged)
    # Called after each step that ran: (graph name, step command, seconds, "ok" | "failed" | "fatal").
    on_step: Callable[[str, str, float, str], None] | None = None


def effective_config(graph: Graph, config: Mapping[str, str] | None, workdir: pathlib.Path) -> dict[str, str]:
    """Graph config overlaid by the item's config, plus `workdir` (absolute)."""
    return {**graph.config, **(config or {}), "workdir": str(pathlib.Path(workdir).resolve())}


def input_files(graph: Graph, tiles: Sequence[Tile]) -> list[tuple[Tile, InFile]]:
    """In-files to import, with their tile: tile conditions only (others never import, spec §9 step 6),
    each local file name once."""
    triple = conditions.three_tiles(tiles)
    seen: set[str] = set()
    selected: list[tuple[Tile, InFile]] = []
    for slot, files in enumerate(graph.in_files):
        for in_file in files:
            if in_file.condition.kind is not ConditionKind.TILE:
                continue
            if not conditions.tile_condition(in_file.condition, tiles):
                continue
            name = naming.layer_file_name(triple[slot], in_file.layer, in_file.extension)
            if name not in seen:
                seen.add(name)
                selected.append((triple[slot], in_file))
    return selected


def planned_commands(
    graph: Graph,
    config: Mapping[str, str] | None,
    tiles: Sequence[Tile],
    workdir: pathlib.Path,
    options: RunOptions | None = None,
) -> list[list[str]]:
    """The command lines the steps whose condition holds would run (a dry run; raises RenderError)."""
    merged = effective_config(graph, config, workdir)
    gpt = (options or RunOptions()).snap_gpt
    return [
        render.command_line(step, merged, tiles, snap_gpt=gpt)
        for step in graph.steps
        if conditions.tile_condition(step.condition, tiles)
    ]


async def _pump(stream: asyncio.StreamReader, on_line: Callable[[str], None], max_line: int) -> None:
    """Feeds every line of `stream` to `on_line`; a line longer than `max_line` is cut there."""
    buffer = b""
    clipping = False  # dropping the rest of an over-long line
    while chunk := await stream.read(_READ_CHUNK):
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            if not clipping:
                on_line(buffer[:end].decode("utf-8", "replace").rstrip("\r"))
            clipping = False
            buffer = buffer[end + 1 :]
        if len(buffer) > max_line:
            if not clipping:
                on_line(buffer[:max_line].decode("utf-8", "replace"))
            clipping = True
            buffer = b""
    if buffer and not clipping:
        on_line(buffer.decode("utf-8", "replace").rstrip("\r"))


def _kill(process: asyncio.subprocess.Process) -> None:
    # The step runs in its own session: kill the whole group so that children of scripts go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _execute(
    step: Step, argv: list[str], workdir: pathlib.Path, label: str, options: RunOptions
) -> StepError | None:
    log_filter = LogFilter(step.engine)

    def on_line(line: str) -> None:
        logger.info("%s: %s", label, line)
        log_filter.feed(line)

    command_text = "".join(" " + token for token in argv)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Unbuffered python output keeps stdout and stderr lines in the order they were written.
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    except OSError as exc:
        return StepError(f"process[{command_text}]: {exc}", temporary=exc.errno in TEMPORARY_ERRNOS)
    assert process.stdout is not None and process.stderr is not None
    try:
        await asyncio.gather(
            _pump(process.stdout, on_line, options.max_line_bytes),
            _pump(process.stderr, on_line, options.max_line_bytes),
        )
        returncode = await process.wait()
    finally:
        if process.returncode is None:  # cancelled (worker shutting down, lease lost): stop the step
            _kill(process)
            await asyncio.shield(process.wait())
    if returncode != 0:
        return log_filter.error(argv, exit_text(returncode))
    return None


async def _run_step(
    graph: Graph,
    step: Step,
    config: Mapping[str, str],
    tiles: Sequence[Tile],
    workdir: pathlib.Path,
    options: RunOptions,
) -> StepError | None:
    try:
        argv = render.command_line(step, config, tiles, snap_gpt=options.snap_gpt)
    except (render.RenderError, InvalidArgument) as exc:
        return StepError(str(exc))
    # Missing engines and commands are deployment problems: retrying the item cannot help.
    if step.engine is Engine.DOCKER:
        return StepError("engine docker needs a Docker engine (not configured)", fatal=True)
    if step.engine is Engine.SNAP and not snap.installed(options.snap_gpt):
        return StepError(snap.not_found(options.snap_gpt, f"step {step.command}"), fatal=True)
    if step.command_path is None:
        return StepError(f"Command not found: {step.command} (graph {graph.path})", fatal=True)
    label = f"{naming.tile_tag(tiles[0])} {step.engine.value} {step.command}"
    logger.info("%s: running", label)
    return await _execute(step, argv, workdir, label, options)


def _apply_dformat(out_file: OutFile, config: Mapping[str, str], tiles: Sequence[Tile]) -> OutFile:
    if out_file.dformat_out is None:
        return out_file
    try:
        text = render.render_value(out_file.dformat_out, config, tiles)
    except render.RenderError as exc:
        raise StepError(f"dformat_out of {out_file.layer}: {exc}") from exc
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        nodata, min_value, max_value = (float(part) for part in parts[1:])
    except ValueError:
        raise StepError(
            f"invalid dformat_out [{text}] of {out_file.layer}: expecting dtype,nodata,min,max"
        ) from None
    return dataclasses.replace(
        out_file, datatype=DType.parse(parts[0]), nodata=nodata, min_value=min_value, max_value=max_value
    )


def _slots(graph: Graph, tiles: Sequence[Tile]) -> list[tuple[int, OutFile]]:
    files: list[tuple[int, OutFile]] = []
    for slot, slot_files in enumerate(graph.out_files):
        if slot >= len(tiles):
            if slot_files:  # the reference crashes here; a scene graph (one tile) should leave them empty
                logger.warning(
                    "graph %s: out-files of slot %d ignored (only %d tile(s))", graph.name, slot, len(tiles)
                )
            continue
        files.extend((slot, out_file) for out_file in slot_files)
    return files


def _select_on_success(
    graph: Graph, config: Mapping[str, str], tiles: Sequence[Tile], workdir: pathlib.Path
) -> list[tuple[int, OutFile]]:
    # error_condition is not looked at: "no error" cannot make it true, and it must not veto either
    # (ExtractS2Bands deletes the product zip after a success and after a fatal failure).
    return [
        (slot, _apply_dformat(f, config, tiles))
        for slot, f in _slots(graph, tiles)
        if conditions.evaluate(f.condition, tiles, workdir, f.layer, f.extension)
    ]


def _select_on_failure(
    graph: Graph, tiles: Sequence[Tile], workdir: pathlib.Path, error: StepError
) -> list[tuple[int, OutFile]]:
    # Outside the "retriable errors" mode every failure counts as fatal for the selection.
    fatal = error.fatal or not graph.retriable
    selected: list[tuple[int, OutFile]] = []
    for slot, f in _slots(graph, tiles):

        def holds(condition: Condition, f: OutFile = f) -> bool:
            return conditions.evaluate(
                condition, tiles, workdir, f.layer, f.extension, failed=True, fatal=fatal
            )

        if f.error_condition is not None and not holds(f.error_condition):
            continue
        if f.condition.kind is ConditionKind.ERROR:
            keep = holds(f.condition)
        else:
            keep = f.error_condition is not None and holds(f.condition)
        if keep:
            selected.append((slot, f))
    return selected


async def run_graph(
    graph: Graph,
    config: Mapping[str, str] | None,
    tiles: Sequence[Tile],
    workdir: pathlib.Path,
    options: RunOptions | None = None,
) -> GraphResult:
    """Runs the steps of `graph` for `tiles` (T0[, T1, T2]) in `workdir`, then selects the out-files.

    Never raises for a step failure: the failure is `GraphResult.error`, and the out-files selected for
    a failure are still returned (e.g. a product to delete after a fatal error).
    """
    if not tiles:
        raise ValueError("run_graph needs at least one tile")
    options = options or RunOptions()
    workdir = pathlib.Path(workdir).resolve()
    merged = effective_config(graph, config, workdir)
    error: StepError | None = None
    for step in graph.steps:
        if not conditions.tile_condition(step.condition, tiles):
            logger.debug(
                "%s: step %s skipped (%s)", naming.tile_tag(tiles[0]), step.command, step.condition.value
            )
            continue
        started = time.perf_counter()
        with tracer.start_as_current_span(
            f"graph step {step.command}",
            attributes={"geocube.graph": graph.name, "geocube.step": step.command},
        ) as span:
            error = await _run_step(graph, step, merged, tiles, workdir, options)
            outcome = "ok" if error is None else "fatal" if error.fatal else "failed"
            span.set_attribute("geocube.step.outcome", outcome)
            if error is not None:
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)[:200]))
        if options.on_step is not None:
            options.on_step(graph.name, step.command, time.perf_counter() - started, outcome)
        if error is not None:
            break
    if error is None:
        try:
            return GraphResult(_select_on_success(graph, merged, tiles, workdir))
        except StepError as exc:
            error = exc
    return GraphResult(_select_on_failure(graph, tiles, workdir, error), error)
