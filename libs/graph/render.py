"""Rendering step arguments and command lines (spec §6.2, §6.3, §6.7).

Every argument becomes one token `--<name>=<value>` (`-P<name>=<value>` for SNAP): values never pass
through a shell, so spaces or quotes in them need no escaping.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys
from collections.abc import Mapping, Sequence

from libs.domain import products
from libs.domain.models import Tile
from libs.graph.conditions import three_tiles
from libs.graph.model import Arg, ArgType, Engine, Step
from libs.storage import naming

# English abbreviations whatever the process locale (strftime's %b follows LC_TIME).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Java heap of SNAP's gpt, as the reference passes it.
SNAP_JAVA_HEAP = "-J-Xmx9000m"


class RenderError(Exception):
    """An argument cannot be rendered (missing config key, unknown tile key, not enough tiles)."""


def format_date(date: dt.datetime) -> str:
    """`DDMonYYYY`, e.g. `03Jan2019` (the SNAP graphs' date format)."""
    return f"{date.day:02d}{_MONTHS[date.month - 1]}{date.year:04d}"


def _tile_value(key: str, tiles: Sequence[Tile]) -> str:
    t0, t1, t2 = three_tiles(tiles)
    match key:
        case "scene":
            return t0.scene.source_id
        case "date":
            return format_date(t0.scene.data.date)
        case "cohdate":
            # Coherence is computed against the reference date, except when the previous tile is
            # the reference itself: then the current date selects the pair.
            same = t1.scene.source_id == t2.scene.source_id
            return format_date((t0 if same else t2).scene.data.date)
        case "swath":
            return t0.data.swath_id
        case "number":
            return str(t0.data.tile_nr)
        case "constellation":
            return products.constellation_from_product_id(t0.scene.source_id).value
    raise RenderError(f"key '{key}' not found in tile")


def render_value(arg: Arg, config: Mapping[str, str], tiles: Sequence[Tile]) -> str:
    """The value of one argument; file names are relative to the working directory."""
    match arg.type:
        case ArgType.FIXED:
            return arg.value
        case ArgType.CONFIG:
            if arg.value not in config:
                raise RenderError(f"key '{arg.value}' not found in config")
            return config[arg.value]
        case ArgType.TILE:
            return _tile_value(arg.value, tiles)
        case ArgType.IN:
            if arg.tile_index >= len(tiles):
                raise RenderError("ArgIn: not enough tiles provided")
            return naming.layer_file_name(tiles[arg.tile_index], arg.layer, arg.extension)
        case ArgType.OUT:
            return naming.layer_file_name(tiles[0], arg.layer, arg.extension)
    raise RenderError(f"unknown arg type {arg.type}")


def render_args(step: Step, config: Mapping[str, str], tiles: Sequence[Tile]) -> dict[str, str]:
    return {name: render_value(arg, config, tiles) for name, arg in step.args.items()}


def has_python_shebang(script: pathlib.Path) -> bool:
    try:
        with script.open("rb") as file:
            first = file.readline(4096)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def command_line(
    step: Step, config: Mapping[str, str], tiles: Sequence[Tile], *, snap_gpt: pathlib.Path | None = None
) -> list[str]:
    """The argv of a step (its arguments rendered); the command is shown as written when not found.

    python: `<script> --a=b …` when the script carries a python shebang and is executable, else
    `<this interpreter> <script> --a=b …` (the reference takes `python` from PATH; ours runs the
    scripts with the interpreter that has rasterio & co installed).
    """
    args = render_args(step, config, tiles)
    command = str(step.command_path) if step.command_path else step.command
    options = [f"--{name}={value}" for name, value in args.items()]
    match step.engine:
        case Engine.PYTHON:
            path = step.command_path
            if path is not None and has_python_shebang(path) and _is_executable(path):
                return [command, *options]
            return [sys.executable, command, *options]
        case Engine.CMD | Engine.DOCKER:
            return [command, *options]
        case Engine.SNAP:
            gpt = str(snap_gpt) if snap_gpt else "gpt"
            parallelism = config.get("snap_cpu_parallelism", "")
            snap_options = [f"-P{name}={value}" for name, value in args.items()]
            return [gpt, command, "-x", "-q", parallelism, SNAP_JAVA_HEAP, *snap_options]
    raise RenderError(f"unknown engine {step.engine}")


def _is_executable(path: pathlib.Path) -> bool:
    return path.is_file() and bool(path.stat().st_mode & 0o111)
