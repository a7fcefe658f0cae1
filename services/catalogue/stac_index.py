"""The catalogue's side of the STAC output: checks the items workers send, the search paging token.

Items arrive as JSON built by libs/stac/items.py; the catalogue keeps them whole and extracts the
columns it filters on (datetime, bbox). Links are not stored: every reader (the gateway's STAC API, the
static catalog writer) rebuilds them for where it serves the item from.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

import shapely
import shapely.geometry

from services.catalogue.store import stac
from libs.runtime.errors import InvalidArgument

Conn = stac.Conn
# Rows read per round when `intersects` filters beyond the bbox index.
_INTERSECTS_BATCH = 500

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10


def _datetime(text: Any, field: str) -> dt.datetime:
    if not isinstance(text, str):
        raise InvalidArgument(field, "must be an RFC 3339 date-time")
    try:
        value = dt.datetime.fromisoformat(text)  # 3.11 reads the Z suffix
    except ValueError:
        raise InvalidArgument(field, f"must be an RFC 3339 date-time (found {text!r})") from None
    if value.tzinfo is None:
        raise InvalidArgument(field, f"must carry a time zone (found {text!r})")
    return value


def check_bbox(values: Sequence[float], field: str) -> stac.BBox:
    """A [west, south, east, north] box in degrees; the 3D form keeps its horizontal part."""
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise InvalidArgument(field, "must be 4 (or 6) finite numbers: west, south, east, north")
    west, south, east, north = (float(v) for v in values)
    if south > north:
        raise InvalidArgument(field, f"south {south} is above north {north}")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidArgument(field, "latitudes must lie in [-90, 90]")
    if west > east:
        # An antimeridian-crossing box: items are indexed by plain boxes, so this one is refused.
        raise InvalidArgument(field, f"west {west} is east of east {east} (antimeridian boxes unsupported)")
    return west, south, east, north


def item_row(index: int, collection: str, item_id: str, record_id: str, text: str, key: str) -> stac.ItemRow:
    """The stored row of one item of an IndexItems request; InvalidArgument naming `items[i]...`."""
    field = f"items[{index}]"
    if not collection:
        raise InvalidArgument(f"{field}.collection", "required")
    if not item_id:
        raise InvalidArgument(f"{field}.id", "required")
    if record_id:
        try:
            uuid.UUID(record_id)  # the store's uuid column: anything else was an INTERNAL there
        except ValueError:
            raise InvalidArgument(
                f"{field}.record_id", f"not a record id (a UUID): {record_id[:40]!r}"
            ) from None
    try:
        item = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{field}.item_json", f"not JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{field}.item_json", "not JSON: nested too deeply") from None
    if not isinstance(item, dict) or item.get("type") != "Feature" or "stac_version" not in item:
        raise InvalidArgument(
            f"{field}.item_json", "must be a STAC Item (a GeoJSON Feature with stac_version)"
        )
    if item.get("id") != item_id or item.get("collection") != collection:
        raise InvalidArgument(f"{field}.item_json", "its id and collection must be the request's")
    properties = item.get("properties")
    if not isinstance(properties, dict):
        raise InvalidArgument(f"{field}.item_json.properties", "required")
    when = _datetime(properties.get("datetime"), f"{field}.item_json.properties.datetime")
    bbox = item.get("bbox")
    box = check_bbox(bbox, f"{field}.item_json.bbox") if bbox is not None else None
    item.pop("links", None)
    return stac.ItemRow(collection, item_id, record_id, when, box, item, key)


def encode_token(last: dict[str, Any]) -> str:
    """The next-page token: the (datetime, collection, id) key of the page's last item."""
    key = [last["properties"]["datetime"], last["collection"], last["id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[dt.datetime, str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, collection, item_id = json.loads(raw)
        if not (isinstance(collection, str) and isinstance(item_id, str)):
            raise TypeError
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise InvalidArgument("token", "not a token of a previous page") from None
    return _datetime(when, "token"), collection, item_id


def limit(value: int) -> int:
    if value < 0 or value > MAX_LIMIT:
        raise InvalidArgument("limit", f"must be in 1..{MAX_LIMIT} (found {value})")
    return value or DEFAULT_LIMIT


def geometry(text: str) -> shapely.Geometry:
    """The `intersects` GeoJSON geometry; InvalidArgument when it is not one."""
    try:
        shape = shapely.geometry.shape(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InvalidArgument("intersects", f"not a GeoJSON geometry: {exc}") from None
    except RecursionError:  # arrays nested thousands deep
        raise InvalidArgument("intersects", "not a GeoJSON geometry: nested too deeply") from None
    if shape.is_empty or not all(math.isfinite(v) for v in shape.bounds):
        raise InvalidArgument("intersects", "empty geometry")
    return shape


def _key(item: dict[str, Any]) -> tuple[dt.datetime, str, str]:
    return _datetime(item["properties"]["datetime"], "datetime"), item["collection"], item["id"]


async def search(
    conn: Conn, query: stac.Search, within: shapely.Geometry | None = None
) -> tuple[list[dict[str, Any]], bool, int]:
    """A page of items; with `within`, the bbox index preselects and shapely keeps the items whose
    geometry really intersects it (then the total is not counted: -1)."""
    if within is None:
        return await stac.search_items(conn, query)
    west, south, east, north = within.bounds
    rounds = dataclasses.replace(query, bbox=(west, south, east, north), limit=_INTERSECTS_BATCH)
    found: list[dict[str, Any]] = []
    after = query.after
    while len(found) <= query.limit:
        page, more, _ = await stac.search_items(conn, dataclasses.replace(rounds, after=after), count=False)
        for item in page:
            footprint = item.get("geometry")
            if footprint and shapely.geometry.shape(footprint).intersects(within):
                found.append(item)
        if not more:
            break
        after = _key(page[-1])
    return found[: query.limit], len(found) > query.limit, -1
