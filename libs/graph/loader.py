"""Finding and parsing JSON processing graphs (spec §6.1, §6.2).

Graph names come from user payloads, so a name is only looked up below the configured graph folders
(and the bundled library, always searched last); an absolute name must lie inside them; `..` is refused.
"""

from __future__ import annotations

import json
import pathlib
import urllib.parse
from collections.abc import Sequence
from typing import Any

from libs.graph import snap
from libs.graph.model import (
    N_SLOTS,
    TILE_ARG_KEYS,
    Action,
    Arg,
    ArgType,
    Condition,
    ConditionKind,
    DType,
    Engine,
    Graph,
    InFile,
    OutFile,
    Step,
)
from libs.runtime.errors import InvalidArgument
from libs.storage import naming

LIBRARY_DIR = pathlib.Path(__file__).resolve().parent / "library"

# Library graphs selected by name, resolved like any other file (a graph folder may override them).
_LIBRARY_ALIASES = {"Pass": "library/Pass.json", "CopyProductToStorage": "library/CopyProductToStorage.json"}
_BUILT_IN = frozenset(
    {
        "S1Preprocessing",
        "S1BackscatterCoherence",
        "S1CoregExtract",
        "S1Clean",
        "PhrPreProcessing",
        "SpotPreProcessing",
        "PhrProcessing",
        "SpotProcessing",
    }
)
# Public for the catalogue, which leaves these to the workers (they need software installed there).
BUILT_IN = _BUILT_IN
# Names of the reference's deployment that point into its library (e.g. the demo payloads use
# "library/graph/ExtractS2Bands.json"): inside the bundled folder these prefixes are dropped.
_LIBRARY_PREFIXES = ("library/graph/", "library/")


def shown(path: pathlib.Path) -> str:
    """How a graph file is named in messages: they reach clients (task messages), which must not learn
    the server's folders; a bundled graph as `library/<name>`, any other by its file name."""
    if path.is_relative_to(LIBRARY_DIR):
        return "library/" + path.relative_to(LIBRARY_DIR).as_posix()
    return path.name


# What messages say instead of the configured folders (the operator finds them in the settings).
_FOLDERS = "the graph folders (GRAPH_PATH) and the bundled library"


class _GraphFileError(InvalidArgument):
    def __init__(self, path: pathlib.Path, reason: str):
        super().__init__("graph", f"LoadGraphFromFile[{shown(path)}]: {reason}")


def _candidates(name: str, folders: Sequence[pathlib.Path]) -> list[pathlib.Path]:
    found = [folder / name for folder in folders]
    for prefix in _LIBRARY_PREFIXES:
        if name.startswith(prefix):
            found.append(LIBRARY_DIR / name[len(prefix) :])
    found.append(LIBRARY_DIR / name)
    return found


def _check_inside_graph_folders(path: pathlib.Path, graph_path: Sequence[pathlib.Path]) -> None:
    # A payload names graphs, it must not pick any JSON file (and the scripts beside it) on a worker:
    # a graph file is accepted only inside the graph folders the operator configured or the library
    # (the reference takes any path: docs/compatibility.md S12).
    real = path.resolve()
    for folder in [*graph_path, LIBRARY_DIR]:
        if real.is_relative_to(folder.resolve()):
            return
    raise InvalidArgument("graph_name", f"graph {shown(path)} is outside {_FOLDERS}")


def check_graph_name(name: str) -> str:
    """The checks a name passes before any file is looked for (the catalogue applies them at ingestion
    even without the graph folders); returns the name to look up (a file: URL decoded)."""
    name = _LIBRARY_ALIASES.get(name, name)
    scheme = urllib.parse.urlsplit(name).scheme
    if scheme == "file":
        name = urllib.parse.unquote(urllib.parse.urlsplit(name).path)
    elif scheme and len(scheme) > 1:  # one letter would be a Windows drive, never seen here
        raise InvalidArgument("graph_name", f"graph {name}: unsupported scheme {scheme!r}")
    # Checked on the decoded name: `file:%2e%2e/x` must not pass as a harmless string.
    if ".." in name or "\x00" in name or "\\" in name:
        raise InvalidArgument("graph_name", f"graph name {name!r} must not contain '..', '\\' or NUL")
    return name


def resolve_graph_file(name: str, graph_path: Sequence[pathlib.Path]) -> pathlib.Path:
    """The JSON file a graph name designates; raises InvalidArgument("graph_name", …) if none."""
    if not name:
        raise InvalidArgument("graph_name", "graph name is empty")
    if name in snap.BUILT_IN_GRAPHS and not snap.installed():
        raise InvalidArgument("graph_name", snap.not_found(snap.DEFAULT_GPT, f"built-in graph {name}"))
    if name in _BUILT_IN:
        raise InvalidArgument("graph_name", f"built-in graph {name} is not available yet")
    name = check_graph_name(name)  # (also maps the library aliases)
    path = pathlib.PurePosixPath(name)
    candidates = [pathlib.Path(path)] if path.is_absolute() else _candidates(name, graph_path)
    # Every candidate, relative ones too, must resolve (symlinks included) inside the graph folders.
    for candidate in candidates:
        if candidate.is_file():
            _check_inside_graph_folders(candidate, graph_path)
            return candidate
    raise InvalidArgument("graph_name", f"graph {name} not found in {_FOLDERS}")


def _condition(path: pathlib.Path, raw: Any, *, tile_only: bool) -> Condition:
    if raw is None or raw == "":
        return Condition.PASS
    allowed = [c for c in Condition if not tile_only or c.kind is ConditionKind.TILE]
    try:
        condition = Condition(raw)
    except ValueError:
        condition = None
    if condition not in allowed:
        names = " ".join(c.value for c in allowed)
        raise _GraphFileError(path, f"unknown condition: {raw} (must be one of [{names}])")
    assert condition is not None
    return condition


def _str(path: pathlib.Path, obj: dict[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _GraphFileError(path, f"{key}: expected a string, got {value!r}")
    return value


def _number(path: pathlib.Path, obj: dict[str, Any], key: str, default: float) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _GraphFileError(path, f"{key}: expected a number, got {value!r}")
    return float(value)


def _object(path: pathlib.Path, raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _GraphFileError(path, f"{what}: expected an object, got {raw!r}")
    return raw


def _arg(path: pathlib.Path, name: str, raw: Any) -> Arg:
    obj = _object(path, raw, f"arg {name}")
    try:
        arg_type = ArgType(str(obj.get("type")))
    except ValueError:
        kinds = ", ".join(t.value for t in ArgType)
        raise _GraphFileError(path, f"unknown type: {obj.get('type')} (must be one of {kinds})") from None
    value = _str(path, obj, "value")
    if arg_type is ArgType.TILE and value not in TILE_ARG_KEYS:
        raise _GraphFileError(path, f"arg {name}: key '{value}' not found in tile")
    tile_index = obj.get("tile_index", 0)
    if arg_type is ArgType.IN and (not isinstance(tile_index, int) or not 0 <= tile_index < N_SLOTS):
        raise _GraphFileError(path, f"arg {name}: tile_index must be 0, 1 or 2, got {tile_index!r}")
    if arg_type in (ArgType.IN, ArgType.OUT):
        return Arg(arg_type, value, tile_index if arg_type is ArgType.IN else 0, *_layer(path, obj))
    return Arg(arg_type, value)


def _layer(path: pathlib.Path, obj: dict[str, Any]) -> tuple[str, str]:
    """(layer, extension) of an in/out file or arg: they become file names, so they are checked now."""
    layer, ext = _str(path, obj, "layer"), _str(path, obj, "extension")
    try:
        naming.check_name_part("layer", layer)
        naming.check_name_part("extension", ext, required=False)
    except InvalidArgument as exc:
        raise _GraphFileError(path, str(exc)) from None
    return layer, ext


def _resolve_command(command: str, folders: Sequence[pathlib.Path]) -> pathlib.Path | None:
    if pathlib.PurePosixPath(command).is_absolute():
        return pathlib.Path(command) if pathlib.Path(command).is_file() else None
    return next((folder / command for folder in folders if (folder / command).is_file()), None)


def _step(path: pathlib.Path, raw: Any, folders: Sequence[pathlib.Path]) -> Step:
    obj = _object(path, raw, "processing step")
    try:
        engine = Engine(str(obj.get("engine")))
    except ValueError:
        engines = ", ".join(e.value for e in Engine)
        raise _GraphFileError(
            path, f"unknown engine: {obj.get('engine')} (must be one of {engines})"
        ) from None
    command = _str(path, obj, "command")
    if not command or "\x00" in command:
        raise _GraphFileError(path, f"step {engine.value}: missing or invalid command {command!r}")
    args = {
        name: _arg(path, name, value) for name, value in _object(path, obj.get("args") or {}, "args").items()
    }
    resolved = None if engine is Engine.DOCKER else _resolve_command(command, folders)
    # A step without "condition" crashes the reference; the documentation implies `pass` (spec §11.18).
    condition = _condition(path, obj.get("condition"), tile_only=True)
    return Step(engine, command, args, condition, resolved)


def _in_file(path: pathlib.Path, raw: Any) -> InFile:
    obj = _object(path, raw, "in_file")
    return InFile(*_layer(path, obj), _condition(path, obj.get("condition"), tile_only=False))


def _out_file(path: pathlib.Path, raw: Any) -> OutFile:
    obj = _object(path, raw, "out_file")
    action_raw = obj.get("action") or Action.TO_IGNORE.value
    try:
        action = Action(action_raw)
    except ValueError:
        raise _GraphFileError(path, f"unknown action: {action_raw}") from None
    error_raw = obj.get("error_condition")
    dformat = None
    if obj.get("dformat_out") is not None:
        dformat = _arg(path, "dformat_out", obj["dformat_out"])
        if dformat.type not in (ArgType.FIXED, ArgType.CONFIG):
            raise _GraphFileError(path, "dformat_out must be an arg of type fixed or config")
    nbands = obj.get("nbands", 1)
    if isinstance(nbands, bool) or not isinstance(nbands, int) or nbands < 1:
        raise _GraphFileError(path, f"nbands: expected a positive integer, got {nbands!r}")
    layer, ext = _layer(path, obj)
    return OutFile(
        layer=layer,
        extension=ext,
        action=action,
        condition=_condition(path, obj.get("condition"), tile_only=False),
        error_condition=None if error_raw in (None, "") else _condition(path, error_raw, tile_only=False),
        datatype=DType.parse(_str(path, obj, "datatype")),
        nodata=_number(path, obj, "nodata", 0.0),
        min_value=_number(path, obj, "min_value", 0.0),
        max_value=_number(path, obj, "max_value", 0.0),
        ext_min_value=_number(path, obj, "ext_min_value", 0.0),
        ext_max_value=_number(path, obj, "ext_max_value", 0.0),
        exponent=_number(path, obj, "exponent", 1.0),
        nbands=nbands,
        dformat_out=dformat,
    )


def _slots(path: pathlib.Path, raw: Any, key: str) -> list[list[Any]]:
    """Exactly N_SLOTS lists: extra slots are ignored, missing ones are empty (spec §6.2)."""
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(s, list | type(None)) for s in raw):
        raise _GraphFileError(path, f"{key}: expected a list of {N_SLOTS} lists")
    slots = [list(s or []) for s in raw[:N_SLOTS]]
    return slots + [[] for _ in range(N_SLOTS - len(slots))]


def parse_graph(
    name: str, path: pathlib.Path, document: Any, graph_path: Sequence[pathlib.Path], retriable: bool
) -> Graph:
    """Builds a Graph from a decoded JSON document (`path` names it in errors, and anchors commands)."""
    obj = _object(path, document, "graph")
    # Unknown keys are ignored (as the reference does), but a file with none of the graph keys is
    # some other JSON document (a payload, a scenes file): loading it as a no-op graph would hide it.
    if not any(key in obj for key in ("processing_steps", "in_files", "out_files")):
        raise _GraphFileError(path, "not a graph (no processing_steps, in_files or out_files)")
    config = _object(path, obj.get("config") or {}, "config")
    for key, value in config.items():
        if not isinstance(value, str):
            raise _GraphFileError(path, f"config[{key}]: expected a string, got {value!r}")
    envs = obj.get("envs") or []
    if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
        raise _GraphFileError(path, "envs: expected a list of KEY=VALUE strings")
    steps_raw = obj.get("processing_steps") or []
    if not isinstance(steps_raw, list):
        raise _GraphFileError(path, "processing_steps: expected a list")
    # Commands resolve next to the graph first, then in the graph folders, then in the library.
    folders = [path.parent, *graph_path, LIBRARY_DIR]
    return Graph(
        name=name,
        path=path,
        config=dict(config),
        envs=list(envs),
        steps=[_step(path, step, folders) for step in steps_raw],
        in_files=[
            [_in_file(path, f) for f in slot] for slot in _slots(path, obj.get("in_files"), "in_files")
        ],
        out_files=[
            [_out_file(path, f) for f in slot] for slot in _slots(path, obj.get("out_files"), "out_files")
        ],
        retriable=retriable,
    )


def load_graph(name: str, graph_path: Sequence[pathlib.Path], retriable: bool) -> Graph:
    """Loads the graph `name` (spec §6.1). `retriable` is the item's `is_retriable` (spec §6.5)."""
    return read_graph_file(name, resolve_graph_file(name, graph_path), graph_path, retriable)


def read_graph_file(name: str, path: pathlib.Path, graph_path: Sequence[pathlib.Path], retriable: bool) -> Graph:
    """Reads and parses the file `name` resolved to (`resolve_graph_file`)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        # str(exc) names the file's full path.
        raise _GraphFileError(path, exc.strerror or type(exc).__name__) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _GraphFileError(path, str(exc)) from exc
    return parse_graph(name, path, document, graph_path, retriable)
