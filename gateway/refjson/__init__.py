"""The reference system's JSON and text formats <-> our protos (spec §1, §2, §3.4, §4.3).

`payload` decodes the ingestion payload, `scenes` decodes and encodes scenes collections, `views` encodes
the monitoring answers, `strict` decodes the control endpoints' bodies; `gojson` holds the Go-compatible
primitives they share.
"""

from gateway.refjson.payload import decode_area
from gateway.refjson.scenes import decode_scenes, encode_scene_collection
from gateway.refjson.strict import decode_scene_attrs_body, decode_scene_to_ingest, decode_tile_attrs_body
from gateway.refjson.views import (
    aoi_report,
    encode_aoi_status,
    encode_aois,
    encode_graph_tiles,
    encode_id,
    encode_retry_counts,
    encode_scene,
    encode_scenes,
    encode_tile,
    encode_tiles,
)

__all__ = [
    "aoi_report",
    "decode_area",
    "decode_scene_attrs_body",
    "decode_scene_to_ingest",
    "decode_scenes",
    "decode_tile_attrs_body",
    "encode_aoi_status",
    "encode_aois",
    "encode_graph_tiles",
    "encode_id",
    "encode_retry_counts",
    "encode_scene",
    "encode_scene_collection",
    "encode_scenes",
    "encode_tile",
    "encode_tiles",
]
