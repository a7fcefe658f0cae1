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

from libs.runtime.errors import NotFound

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


# A tile published again keeps the assets it had (a later task may index more files of the same tile,
# e.g. of its previous tile); the new item wins for everything else, its assets for the same keys.
_UPSERT = (
    "INSERT INTO stac_item (collection, id, record_id, datetime, bbox, item, catalog_root, catalog_key)"
    " VALUES (%s, %s, %s, %s, %s::box, %s, %s, %s)"
    " ON CONFLICT (collection, id) DO UPDATE SET record_id = EXCLUDED.record_id,"
    " datetime = EXCLUDED.datetime, bbox = EXCLUDED.bbox, catalog_root = EXCLUDED.catalog_root,"
    " catalog_key = EXCLUDED.catalog_key, updated = now(),"
    " item = EXCLUDED.item || jsonb_build_object("
    "   'assets', COALESCE(stac_item.item->'assets', '{}') || COALESCE(EXCLUDED.item->'assets', '{}'),"
    "   'stac_extensions', (SELECT COALESCE(jsonb_agg(DISTINCT e), '[]') FROM jsonb_array_elements("
    "     COALESCE(stac_item.item->'stac_extensions', '[]') || COALESCE(EXCLUDED.item->'stac_extensions', '[]')"
    "   ) AS e))"
    " RETURNING item"
)


async def upsert_items(
    conn: Conn, catalog_root: str, rows: Sequence[ItemRow]
) -> tuple[int, list[dict[str, Any]]]:
    """Stores the items and bumps the static catalog's revision, in the caller's transaction; returns the
    new revision and the items as stored (merged with what was there)."""
    stored = []
    for row in rows:
        record_id = uuid.UUID(row.record_id) if row.record_id else None
        try:
            cur = await conn.execute(
                _UPSERT,
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
        found = await cur.fetchone()
        assert found is not None
        stored.append(found[0])
    # The row lock taken here also orders concurrent writers of one catalog: revisions never repeat.
    cur = await conn.execute(
        "INSERT INTO stac_catalog (root, revision) VALUES (%s, 1)"
        " ON CONFLICT (root) DO UPDATE SET revision = stac_catalog.revision + 1 RETURNING revision",
        (catalog_root,),
    )
    revision = await cur.fetchone()
    assert revision is not None
    return int(revision[0]), stored


def _where(search: Search) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
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


# PostgreSQL keeps no statistics on `box` columns and guesses 0.5% for `&&`, so with a LIMIT it walks the
# (datetime, collection, id) index and filters: right when the box holds many items, a scan of the whole
# table when it holds few. Below this many matches the page is taken from the GiST index and sorted.
_FEW_MATCHES = 5000


async def _count(conn: Conn, where: str, params: list[Any]) -> int:
    cur = await conn.execute(f"SELECT count(*) FROM stac_item WHERE {where}", params)
    total = await cur.fetchone()
    assert total is not None
    return int(total[0])


async def search_items(
    conn: Conn, search: Search, count: bool = True
) -> tuple[list[dict[str, Any]], bool, int]:
    """One page of items in (datetime, collection, id) order, whether more follow, and the match count
    (-1 when not `count`; a bbox search always counts: it chooses the plan)."""
    where, params = _where(search)
    total = await _count(conn, where, params) if count or search.bbox is not None else -1
    page_where, page_params = where, list(params)
    if search.after is not None:
        page_where += " AND (datetime, collection, id) > (%s, %s, %s)"
        page_params.extend(search.after)
    if search.bbox is not None and total < _FEW_MATCHES:
        # MATERIALIZED keeps the planner from folding the GiST selection back into the ordered scan.
        query = (
            f"WITH hits AS MATERIALIZED (SELECT item, datetime, collection, id FROM stac_item WHERE {page_where})"
            " SELECT item FROM hits ORDER BY datetime, collection, id LIMIT %s"
        )
    else:
        query = f"SELECT item FROM stac_item WHERE {page_where} ORDER BY datetime, collection, id LIMIT %s"
    cur = await conn.execute(query, [*page_params, search.limit + 1])
    items = [r[0] for r in await cur.fetchall()]
    return items[: search.limit], len(items) > search.limit, total if count else -1


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
    current = await cur.fetchone()
    return summaries, int(current[0]) if current else 0
