"""SQL of the STAC Items of indexed datasets (table stac_item, schema/0007_stac_items.sql)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from services.runtime.errors import NotFound

Conn = AsyncConnection[Any]
BBox = tuple[float, float, float, float]  # west, south, east, north


@dataclasses.dataclass(frozen=True)
class ItemRow:
    collection: str
    id: str
    record_id: str  # "" when none
    datetime: dt.datetime
    bbox: BBox | None
    item: dict[str, Any]
    catalog_key: str = ""


@dataclasses.dataclass(frozen=True)
class Search:
    collections: Sequence[str] = ()
    ids: Sequence[str] = ()
    bbox: BBox | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = 10
    after: tuple[dt.datetime, str, str] | None = None  # keyset: the last (datetime, collection, id) seen


@dataclasses.dataclass(frozen=True)
class CollectionSummary:
    id: str
    bbox: BBox | None
    start: dt.datetime
    end: dt.datetime
    item_count: int
    items: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (id, catalog key)


def _box(bbox: BBox) -> str:
    # The text form of a `box`: two opposite corners.
    west, south, east, north = bbox
    return f"(({west},{south}),({east},{north}))"


async def upsert_items(conn: Conn, catalog_root: str, rows: Sequence[ItemRow]) -> int:
    """Stores the items (a redone tile replaces its item) and bumps the static catalog's revision, in the
    caller's transaction; returns the new revision."""
    for row in rows:
        record_id = uuid.UUID(row.record_id) if row.record_id else None
        try:
            await conn.execute(
                "INSERT INTO stac_item (collection, id, record_id, datetime, bbox, item, catalog_root, catalog_key)"
                " VALUES (%s, %s, %s, %s, %s::box, %s, %s, %s)"
                " ON CONFLICT (collection, id) DO UPDATE SET record_id = EXCLUDED.record_id,"
                " datetime = EXCLUDED.datetime, bbox = EXCLUDED.bbox, item = EXCLUDED.item,"
                " catalog_root = EXCLUDED.catalog_root, catalog_key = EXCLUDED.catalog_key, updated = now()",
                (
                    row.collection,
                    row.id,
                    record_id,
                    row.datetime,
                    _box(row.bbox) if row.bbox else None,
                    Jsonb(row.item),
                    catalog_root,
                    row.catalog_key,
                ),
            )
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(f"item {row.id}: unknown record {row.record_id}") from None
    # The row lock taken here also orders concurrent writers of one catalog: revisions never repeat.
    cur = await conn.execute(
        "INSERT INTO stac_catalog (root, revision) VALUES (%s, 1)"
        " ON CONFLICT (root) DO UPDATE SET revision = stac_catalog.revision + 1 RETURNING revision",
        (catalog_root,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _where(search: Search) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    if search.collections:
        clauses.append("collection = ANY(%s)")
        params.append(list(search.collections))
    if search.ids:
        clauses.append("id = ANY(%s)")
        params.append(list(search.ids))
    if search.bbox is not None:
        clauses.append("bbox && %s::box")  # GiST index scan
        params.append(_box(search.bbox))
    if search.start is not None:
        clauses.append("datetime >= %s")
        params.append(search.start)
    if search.end is not None:
        clauses.append("datetime <= %s")
        params.append(search.end)
    return " AND ".join(clauses), params


async def search_items(
    conn: Conn, search: Search, count: bool = True
) -> tuple[list[dict[str, Any]], bool, int]:
    """One page of items in (datetime, collection, id) order, whether more follow, and the match count
    (-1 when not `count`)."""
    where, params = _where(search)
    page_where, page_params = where, list(params)
    if search.after is not None:
        page_where += " AND (datetime, collection, id) > (%s, %s, %s)"
        page_params.extend(search.after)
    cur = await conn.execute(
        f"SELECT item FROM stac_item WHERE {page_where} ORDER BY datetime, collection, id LIMIT %s",
        [*page_params, search.limit + 1],
    )
    items = [r[0] for r in await cur.fetchall()]
    if not count:
        return items[: search.limit], len(items) > search.limit, -1
    cur = await conn.execute(f"SELECT count(*) FROM stac_item WHERE {where}", params)
    count = await cur.fetchone()
    assert count is not None
    return items[: search.limit], len(items) > search.limit, int(count[0])


async def list_collections(
    conn: Conn, ids: Sequence[str] = (), catalog_root: str = "", with_items: bool = False
) -> tuple[list[CollectionSummary], int]:
    """The collections (AOIs with items) and their extents, and the revision of `catalog_root`."""
    cur = await conn.execute(
        "SELECT collection, min((bbox[1])[0]), min((bbox[1])[1]), max((bbox[0])[0]), max((bbox[0])[1]),"
        " min(datetime), max(datetime), count(*) FROM stac_item"
        " WHERE (%s = '' OR catalog_root = %s) AND (cardinality(%s::text[]) = 0 OR collection = ANY(%s))"
        " GROUP BY collection ORDER BY collection",
        (catalog_root, catalog_root, list(ids), list(ids)),
    )
    summaries = []
    for r in await cur.fetchall():
        # A box stores its upper-right corner first: bbox[0] = (east, north), bbox[1] = (west, south).
        bbox = (r[1], r[2], r[3], r[4]) if r[1] is not None else None
        summaries.append(CollectionSummary(r[0], bbox, r[5], r[6], int(r[7])))
    if with_items and summaries:
        cur = await conn.execute(
            "SELECT collection, id, catalog_key FROM stac_item"
            " WHERE (%s = '' OR catalog_root = %s) AND collection = ANY(%s) ORDER BY collection, id",
            (catalog_root, catalog_root, [s.id for s in summaries]),
        )
        by_id = {s.id: s for s in summaries}
        for r in await cur.fetchall():
            by_id[r[0]].items.append((r[1], r[2]))
    cur = await conn.execute("SELECT revision FROM stac_catalog WHERE root = %s", (catalog_root,))
    revision = await cur.fetchone()
    return summaries, int(revision[0]) if revision else 0
