"""Evaluating step, in-file and out-file conditions (spec §6.4)."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

from libs.domain.models import Tile
from libs.graph.model import Condition, ConditionKind
from libs.storage import naming


def three_tiles(tiles: Sequence[Tile]) -> tuple[Tile, Tile, Tile]:
    """T0, T1, T2 with an absent previous or reference tile replaced by T0 (as for root tiles, §9)."""
    if not tiles:
        raise ValueError("a graph needs at least one tile")
    t0 = tiles[0]
    return t0, tiles[1] if len(tiles) > 1 else t0, tiles[2] if len(tiles) > 2 else t0


def tile_condition(condition: Condition, tiles: Sequence[Tile]) -> bool:
    """Compares the scene source ids of the tiles; False for a non-tile condition."""
    scenes = [tile.scene.source_id for tile in three_tiles(tiles)]
    match condition:
        case Condition.PASS:
            return True
        case Condition.DIFFERENT_T0_T1:
            return scenes[0] != scenes[1]
        case Condition.DIFFERENT_T0_T2:
            return scenes[0] != scenes[2]
        case Condition.DIFFERENT_T1_T2:
            return scenes[1] != scenes[2]
        case Condition.EQUAL_T0_T1:
            return scenes[0] == scenes[1]
        case Condition.EQUAL_T0_T2:
            return scenes[0] == scenes[2]
        case Condition.EQUAL_T1_T2:
            return scenes[1] == scenes[2]
    return False


def file_condition(
    condition: Condition, tiles: Sequence[Tile], workdir: pathlib.Path, layer: str, ext: str
) -> bool:
    """Whether T0's file of `layer`/`ext` exists in the workdir — T0's even for slots 1 and 2 (§6.4)."""
    exists = (workdir / naming.layer_file_name(tiles[0], layer, ext)).exists()
    if condition is Condition.FILE_EXISTS:
        return exists
    if condition is Condition.FILE_NOT_EXIST:
        return not exists
    return False


def error_condition(condition: Condition, failed: bool, fatal: bool) -> bool:
    if condition is Condition.ON_FAILURE:
        return failed
    if condition is Condition.ON_FATAL_FAILURE:
        return failed and fatal
    return False


def evaluate(
    condition: Condition,
    tiles: Sequence[Tile],
    workdir: pathlib.Path,
    layer: str,
    ext: str,
    *,
    failed: bool = False,
    fatal: bool = False,
) -> bool:
    """Any condition, for an out-file of `layer`/`ext`, after a run that `failed` (fatally or not)."""
    match condition.kind:
        case ConditionKind.TILE:
            return tile_condition(condition, tiles)
        case ConditionKind.FILE:
            return file_condition(condition, tiles, workdir, layer, ext)
        case ConditionKind.ERROR:
            return error_condition(condition, failed, fatal)
