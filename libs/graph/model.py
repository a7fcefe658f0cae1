"""The processing-graph model (spec §6.2): what a JSON graph file holds once loaded, and run results."""

from __future__ import annotations

import dataclasses
import enum
import pathlib

N_SLOTS = 3  # T0 (current tile), T1 (previous), T2 (reference)


class ConditionKind(enum.Enum):
    TILE = "tile"
    FILE = "file"
    ERROR = "error"


class Condition(enum.StrEnum):
    PASS = "pass"
    DIFFERENT_T0_T1 = "different_T0_T1"
    DIFFERENT_T0_T2 = "different_T0_T2"
    DIFFERENT_T1_T2 = "different_T1_T2"
    EQUAL_T0_T1 = "equal_T0_T1"
    EQUAL_T0_T2 = "equal_T0_T2"
    EQUAL_T1_T2 = "equal_T1_T2"
    FILE_EXISTS = "file_exists"
    FILE_NOT_EXIST = "file_not_exist"
    ON_FAILURE = "on_failure"
    ON_FATAL_FAILURE = "on_fatal_failure"

    @property
    def kind(self) -> ConditionKind:
        if self in (Condition.FILE_EXISTS, Condition.FILE_NOT_EXIST):
            return ConditionKind.FILE
        if self in (Condition.ON_FAILURE, Condition.ON_FATAL_FAILURE):
            return ConditionKind.ERROR
        return ConditionKind.TILE


class Action(enum.StrEnum):
    TO_IGNORE = "to_ignore"
    TO_CREATE = "to_create"  # upload to storage
    TO_INDEX = "to_index"  # upload and index in the Geocube (processor only)
    TO_DELETE = "to_delete"  # delete from storage once everything else is done (processor only)


class Engine(enum.StrEnum):
    PYTHON = "python"
    CMD = "cmd"
    SNAP = "snap"
    DOCKER = "docker"


class ArgType(enum.StrEnum):
    FIXED = "fixed"
    CONFIG = "config"
    TILE = "tile"
    IN = "in"
    OUT = "out"


TILE_ARG_KEYS = ("scene", "date", "swath", "number", "cohdate", "constellation")


class DType(enum.StrEnum):
    UNDEFINED = "undefined"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    INT16 = "int16"
    INT32 = "int32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    COMPLEX64 = "complex64"

    @classmethod
    def parse(cls, text: str) -> DType:
        """Case-insensitive dtype name or alias (spec §6.6); anything else is UNDEFINED."""
        return _DTYPE_ALIASES.get(text.strip().lower(), cls.UNDEFINED)


_DTYPE_ALIASES = {
    "uint8": DType.UINT8, "byte": DType.UINT8, "u1": DType.UINT8,
    "uint16": DType.UINT16, "u2": DType.UINT16,
    "uint32": DType.UINT32, "u4": DType.UINT32,
    "int16": DType.INT16, "i2": DType.INT16,
    "int32": DType.INT32, "i4": DType.INT32,
    "float32": DType.FLOAT32, "f4": DType.FLOAT32,
    "float64": DType.FLOAT64, "f8": DType.FLOAT64,
    "complex64": DType.COMPLEX64, "c4": DType.COMPLEX64,
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Arg:
    type: ArgType
    value: str = ""  # fixed: the literal; config: the key; tile: one of TILE_ARG_KEYS
    tile_index: int = 0  # `in` only: 0, 1 or 2
    layer: str = ""  # `in` / `out`
    extension: str = ""  # `in` / `out`


@dataclasses.dataclass(frozen=True)
class Step:
    engine: Engine
    command: str  # as written in the graph (a docker image reference for docker)
    args: dict[str, Arg]
    condition: Condition = Condition.PASS  # always a tile condition
    # The command found at load time (python/cmd/snap); None when it is not installed here, which
    # fails the step when it runs, so that graphs for engines this host lacks still load.
    command_path: pathlib.Path | None = None


@dataclasses.dataclass(frozen=True)
class InFile:
    layer: str
    extension: str = ""
    condition: Condition = Condition.PASS


@dataclasses.dataclass(frozen=True)
class OutFile:
    layer: str
    extension: str = ""
    action: Action = Action.TO_IGNORE
    condition: Condition = Condition.PASS
    error_condition: Condition | None = None
    datatype: DType = DType.UNDEFINED
    nodata: float = 0.0
    min_value: float = 0.0
    max_value: float = 0.0
    ext_min_value: float = 0.0  # real-world range, for indexation
    ext_max_value: float = 0.0
    exponent: float = 1.0
    nbands: int = 1  # bands 1..nbands are indexed
    dformat_out: Arg | None = None  # fixed or config, "dtype,nodata,min,max" once rendered


@dataclasses.dataclass(frozen=True)
class Graph:
    name: str  # as requested (e.g. "Pass", "library/graph/ExtractS2Bands.json")
    path: pathlib.Path  # the JSON file it was loaded from
    config: dict[str, str]
    envs: list[str]  # KEY=VALUE, passed to docker steps only
    steps: list[Step]
    in_files: list[list[InFile]]  # exactly N_SLOTS slots
    out_files: list[list[OutFile]]  # exactly N_SLOTS slots; slot i refers to tile Ti
    # "retriable errors" mode: a failure is not made fatal for the out-file selection (spec §6.5).
    retriable: bool = False


class StepError(Exception):
    """A failed step (or argument rendering / dformat_out parsing), classified per spec §7.3.

    `temporary`: transient, redeliver the job; `fatal`: never retry. Both may be set (temporary wins).
    """

    def __init__(self, message: str, *, fatal: bool = False, temporary: bool = False):
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.temporary = temporary

    def __repr__(self) -> str:
        return f"StepError({self.message!r}, fatal={self.fatal}, temporary={self.temporary})"


@dataclasses.dataclass
class GraphResult:
    # (slot index, out-file with dformat_out applied) — what the caller uploads, indexes or deletes.
    out_files: list[tuple[int, OutFile]]
    error: StepError | None = None
