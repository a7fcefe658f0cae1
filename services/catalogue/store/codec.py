"""Row <-> domain conversion. `scene.data` and `tile.data` hold the reference's SceneAttrs/TileAttrs JSON
(spec §1.6-1.7), so a database written by the reference reads back unchanged."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from libs.domain import models


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with the fraction's trailing zeros stripped, as Go prints times (the zero time is
    `0001-01-01T00:00:00Z`, as the reference stores it)."""
    value = value.astimezone(dt.UTC)
    # Not strftime: glibc prints year 1 as "1", which neither PostgreSQL nor fromisoformat reads back.
    text = value.isoformat(timespec="seconds").removesuffix("+00:00")
    if value.microsecond:
        text += ("." + f"{value.microsecond:06d}").rstrip("0")
    return text + "Z"


# Earlier versions stored years below 1000 unpadded (`1-01-01T00:00:00Z`): still read them.
_UNPADDED_YEAR = re.compile(r"^(\d{1,3})-")


def parse_time(text: str | None) -> dt.datetime:
    if not text:
        return models.ZERO_TIME
    text = _UNPADDED_YEAR.sub(lambda m: m.group(1).rjust(4, "0") + "-", text)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def scene_data_to_json(data: models.SceneAttrs) -> dict[str, Any]:
    out: dict[str, Any] = {"date": format_time(data.date)}
    if data.tiles:
        out["tiles"] = {k: {"swath_id": v.swath_id, "tile_nr": v.tile_nr} for k, v in data.tiles.items()}
    out["graph_name"] = data.graph_name
    out["graph_config"] = data.graph_config
    out["record_id"] = data.record_id
    if data.instances_id:
        out["instances_id"] = data.instances_id
    out["metadata"] = data.metadata
    out["is_retriable"] = data.is_retriable
    out["storage_uri"] = data.storage_uri
    return out


def scene_data_from_json(raw: dict[str, Any] | None) -> models.SceneAttrs:
    raw = raw or {}
    return models.SceneAttrs(
        date=parse_time(raw.get("date")),
        tiles={
            k: models.TileMapping(v.get("swath_id", ""), int(v.get("tile_nr", 0)))
            for k, v in (raw.get("tiles") or {}).items()
        },
        graph_name=raw.get("graph_name", ""),
        graph_config=raw.get("graph_config"),
        record_id=raw.get("record_id", ""),
        instances_id=raw.get("instances_id") or {},
        metadata=raw.get("metadata"),
        is_retriable=bool(raw.get("is_retriable", False)),
        storage_uri=raw.get("storage_uri", ""),
    )


def tile_data_to_json(data: models.TileAttrs) -> dict[str, Any]:
    return {
        "swath_id": data.swath_id,
        "tile_nr": data.tile_nr,
        "graph_name": data.graph_name,
        "is_retriable": data.is_retriable,
    }


def tile_data_from_json(raw: dict[str, Any] | None) -> models.TileAttrs:
    raw = raw or {}
    return models.TileAttrs(
        swath_id=raw.get("swath_id", ""),
        tile_nr=int(raw.get("tile_nr", 0)),
        graph_name=raw.get("graph_name", ""),
        is_retriable=bool(raw.get("is_retriable", False)),
    )


SCENE_COLUMNS = "s.id, s.source_id, s.aoi_id, s.data, s.status, s.message, s.retry_countdown"
TILE_COLUMNS = "t.id, t.source_id, t.scene_id, t.data, t.status, t.message, t.prev, t.ref, t.retry_countdown"


def scene_from_row(row: tuple[Any, ...]) -> models.Scene:
    return models.Scene(
        id=row[0],
        source_id=row[1],
        aoi=row[2],
        data=scene_data_from_json(row[3]),
        status=models.Status(row[4]),
        message=row[5],
        retry_countdown=row[6],
    )


def tile_from_row(row: tuple[Any, ...], scene: models.Scene | None = None) -> models.Tile:
    return models.Tile(
        id=row[0],
        source_id=row[1],
        scene=scene or models.Scene(id=row[2], source_id="", aoi="", data=models.SceneAttrs()),
        data=tile_data_from_json(row[3]),
        status=models.Status(row[4]),
        message=row[5],
        previous_id=row[6],
        reference_id=row[7],
        retry_countdown=row[8],
    )
