"""File-naming rules shared by the graph engine, the workers and the storage (spec §7.1, §7.2).

A layer of a tile has one local file name in the job's working directory and one stored object key.
Every name part comes from user payloads or catalogues (aoi, scene and tile ids) or from graph files
(layers, extensions), so each part is checked here: none may contain a path separator, `..` or NUL,
which keeps every name inside the storage root and inside the working directory.
"""

from __future__ import annotations

from libs.domain.models import Tile
from libs.runtime.errors import InvalidArgument

PRODUCT_LAYER = "__product__"
ANNOTATIONS_LAYER = "__annotations__"

# Extensions that name directories (or a file plus a directory, for `dim`): they travel as one zip.
ZIP_STORED_EXTENSIONS = frozenset({"SAFE", "dim", "data", "*"})
# `*` means "the whole working directory"; it contributes no suffix to file names, like "".
_NO_SUFFIX_EXTENSIONS = frozenset({"", "*"})


def check_name_part(field: str, value: str, *, required: bool = True) -> str:
    """Returns `value` if it can be used as (part of) one path segment, else raises InvalidArgument."""
    if not value:
        if required:
            raise InvalidArgument(field, "must not be empty")
        return value
    for bad, label in (("/", "'/'"), ("\\", "'\\'"), ("..", "'..'"), ("\x00", "NUL")):
        if bad in value:
            raise InvalidArgument(field, f"{value!r} must not contain {label}")
    if value == ".":
        raise InvalidArgument(field, "'.' is not a valid name")
    return value


def is_zip_stored(ext: str) -> bool:
    return ext in ZIP_STORED_EXTENSIONS


def extension_suffix(ext: str) -> str:
    check_name_part("extension", ext, required=False)
    return "" if ext in _NO_SUFFIX_EXTENSIONS else f".{ext}"


def date_tag(tile: Tile) -> str:
    """YYYYMMDD of the scene date in the offset it carries (formatted by hand: %Y is not zero-padded
    for years < 1000 on every platform, and the zero date must read 00010101 as in the reference)."""
    date = tile.scene.data.date
    return f"{date.year:04d}{date.month:02d}{date.day:02d}"


def tile_tag(tile: Tile) -> str:
    """Log tag of a tile: `<YYYYMMDD>_<tile source id>`."""
    return f"{date_tag(tile)}_{tile.source_id}"


def layer_file_name(tile: Tile, layer: str, ext: str) -> str:
    """Local file name of `layer` of `tile` with extension `ext` (spec §7.1).

    `__annotations__` gives `<scene>_annotations.<ext>`: the reference doubles the dot (spec §11.11).
    """
    check_name_part("layer", layer)
    suffix = extension_suffix(ext)
    scene_id = check_name_part("scene", tile.scene.source_id)
    if layer == PRODUCT_LAYER:
        return f"{scene_id}{suffix}"
    if layer == ANNOTATIONS_LAYER:
        return f"{scene_id}_annotations{suffix}"
    check_name_part("tile", tile.source_id)
    return f"{tile_tag(tile)}_{layer}{suffix}"


def stored_file_name(tile: Tile, layer: str, ext: str) -> str:
    """Name of the stored object of a layer: zip-stored extensions travel as `<name>.zip`."""
    return layer_file_name(tile, layer, "zip" if is_zip_stored(ext) else ext)


def object_key(tile: Tile, file_name: str) -> str:
    """Storage key `<aoi>/<scene source id>/tiles/<tile source id>/<file>` (relative to the root)."""
    parts = (
        check_name_part("aoi", tile.scene.aoi),
        check_name_part("scene", tile.scene.source_id),
        "tiles",
        check_name_part("tile", tile.source_id),
        check_name_part("file_name", file_name),
    )
    return "/".join(parts)
