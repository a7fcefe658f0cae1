"""The workflow's monitoring formats (spec §1.13, §4.3): DB-view scenes, tiles and AOIs, the AOI text
report and `{"id":N}`. These are struct-derived objects: keys keep the reference's declaration order
(including its capitalised `RetryCountDown`, `PreviousID`, `ReferenceID` and `ID`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from google.protobuf import timestamp_pb2

from gateway.refjson import gojson
from gateway.refjson.scenes import scene_attrs, tile_attrs
from protos.ingester.v1 import catalogue_pb2, types_pb2

_STATUS_NAMES: dict[types_pb2.Status, str] = {
    types_pb2.STATUS_NEW: "NEW",
    types_pb2.STATUS_PENDING: "PENDING",
    types_pb2.STATUS_DONE: "DONE",
    types_pb2.STATUS_RETRY: "RETRY",
    types_pb2.STATUS_FAILED: "FAILED",
}
STATUS_BY_NAME: dict[str, types_pb2.Status] = {name: value for value, name in _STATUS_NAMES.items()}


def status_name(status: types_pb2.Status) -> str:
    return _STATUS_NAMES.get(status, "")


def common_scene(scene: types_pb2.Scene) -> dict[str, Any]:
    """The reference's common Scene (spec §1.8): id, source_id, aoi, data."""
    return {"id": scene.id, "source_id": scene.source_id, "aoi": scene.aoi, "data": scene_attrs(scene.data)}


def scene_view(scene: types_pb2.Scene) -> dict[str, Any]:
    out = common_scene(scene)
    out["status"] = status_name(scene.status)
    out["message"] = scene.message
    out["RetryCountDown"] = scene.retry_countdown
    return out


def tile_view(tile: types_pb2.Tile) -> dict[str, Any]:
    return {
        "id": tile.id,
        "source_id": tile.source_id,
        # An unjoined scene still prints in full, with zero values (only its id is known).
        "scene": common_scene(tile.scene),
        "data": tile_attrs(tile.data),
        "status": status_name(tile.status),
        "message": tile.message,
        "PreviousID": tile.previous_id if tile.HasField("previous_id") else None,
        "ReferenceID": tile.reference_id if tile.HasField("reference_id") else None,
        "RetryCountDown": tile.retry_countdown,
    }


def graph_tile(tile: types_pb2.Tile, aoi: str) -> dict[str, Any]:
    """A root or leaf tile: the common Tile (spec §1.9) with its scene, whose `aoi` is the requested
    one (spec §5.3)."""
    scene = common_scene(tile.scene)
    scene["aoi"] = aoi
    return {"id": tile.id, "source_id": tile.source_id, "scene": scene, "data": tile_attrs(tile.data)}


def aoi_view(aoi: types_pb2.Aoi) -> dict[str, Any]:
    return {"ID": aoi.id, "status": status_name(aoi.status)}


def encode_scenes(scenes: Iterable[types_pb2.Scene]) -> str:
    return gojson.encoder_line([scene_view(s) for s in scenes])


def encode_scene(scene: types_pb2.Scene) -> str:
    return gojson.encoder_line(scene_view(scene))


def encode_tiles(tiles: Iterable[types_pb2.Tile]) -> str:
    return gojson.encoder_line([tile_view(t) for t in tiles])


def encode_tile(tile: types_pb2.Tile) -> str:
    return gojson.encoder_line(tile_view(tile))


def encode_graph_tiles(tiles: Iterable[types_pb2.Tile], aoi: str) -> str:
    return gojson.encoder_line([graph_tile(t, aoi) for t in tiles])


def encode_retry_counts(scenes: int, tiles: int) -> str:
    """The answer of `PUT /aoi/{aoi}/retry`: an anonymous Go struct, hence the capitalised keys."""
    return gojson.encoder_line({"Scenes": scenes, "Tiles": tiles})


def encode_aois(aois: Iterable[types_pb2.Aoi]) -> str:
    return gojson.encoder_line([aoi_view(a) for a in aois])


def encode_aoi_status(aoi: str, status: types_pb2.Status, changed: bool) -> str:
    """Our `/aoi/{aoi}/status` long-poll answer: the AOI view plus whether the status changed."""
    view = aoi_view(types_pb2.Aoi(id=aoi, status=status))
    view["changed"] = changed
    return gojson.encoder_line(view)


def encode_id(identifier: int) -> str:
    """`{"id":N}`, written by the reference with Fprintf: no trailing newline."""
    return f'{{"id":{identifier}}}'


def _counts(title: str, counts: catalogue_pb2.StatusCounts) -> str:
    return (
        f"{title}:\n"
        f"  new:     {counts.new}\n"
        f"  pending: {counts.pending}\n"
        f"  done:    {counts.done}\n"
        f"  retry:   {counts.retry}\n"
        f"  failed:  {counts.failed}\n"
        f"  Total:   {counts.total}\n"
    )


def _today() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime.now(dt.UTC))
    return ts


def aoi_report(report: catalogue_pb2.GetAoiReportResponse) -> str:
    """The text answer of GET /aoi/{aoi} (spec §4.3). An unset `from` means no root tile: the reference
    then shows today's date; an unset `to` shows the zero date."""
    start = getattr(report, "from") if report.HasField("from") else _today()
    end = report.to if report.HasField("to") else None
    return (
        _counts("Scenes", report.scenes)
        + _counts("Tiles", report.tiles)
        + f"\nRoot tiles : {report.root_tiles}\n"
        + f"  From: {gojson.format_date(start)}\n"
        + f"  To:   {gojson.format_date(end)}\n"
    )
