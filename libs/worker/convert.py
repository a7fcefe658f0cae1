"""Protobuf Scene/Tile <-> domain dataclasses, as the workers use them.

The conversion rules live once, in `libs.domain.proto_convert` (the catalogue's servicers use the
same ones, so a scene leased by a worker is exactly the scene the catalogue stored): timestamps become
tz-aware UTC datetimes (unset = the reference's zero time), a `graph_config` StringMap or a `metadata`
Struct that is unset becomes None (the reference prints `null`), a present but empty one `{}`.
"""

from __future__ import annotations

from libs.domain.proto_convert import (
    scene_from_proto,
    scene_to_proto,
    status_from_proto,
    status_to_proto,
    tile_from_proto,
    tile_to_proto,
)

__all__ = [
    "scene_from_proto",
    "scene_to_proto",
    "status_from_proto",
    "status_to_proto",
    "tile_from_proto",
    "tile_to_proto",
]
