"""The STAC item search's SQL on a real PostgreSQL: both plans (few and many bbox matches) give the same
pages in (datetime, collection, id) order, and keyset paging neither skips nor repeats items."""

from __future__ import annotations

import datetime as dt

import psycopg

from services.catalogue import stac_index
from services.catalogue.store import stac

ROWS = 6000  # above the plan switch (stac._FEW_MATCHES) for a box holding every row
START = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)


async def _fill(conn: psycopg.AsyncConnection) -> None:
    # Items on a 100 x 60 grid of 0.1° cells; every 7th shares its datetime with the previous one,
    # so the order's tie-breakers (collection, id) matter.
    await conn.execute(
        "INSERT INTO stac_item (collection, id, datetime, bbox, item)"
        " SELECT 'A' || (g %% 3), 'i' || lpad(g::text, 5, '0'), %s + (g - (g %% 7 = 0)::int) * interval '1 minute',"
        " box(point((g %% 100) * 0.1, (g / 100) * 0.1), point((g %% 100) * 0.1 + 0.1, (g / 100) * 0.1 + 0.1)),"
        " jsonb_build_object('id', 'i' || lpad(g::text, 5, '0'), 'collection', 'A' || (g %% 3),"
        "   'properties', jsonb_build_object('datetime',"
        "     to_char((%s + (g - (g %% 7 = 0)::int) * interval '1 minute') AT TIME ZONE 'UTC',"
        '             \'YYYY-MM-DD"T"HH24:MI:SS"Z"\')))'
        " FROM generate_series(1, %s) g",
        (START, START, ROWS),
    )


async def _all_pages(conn: psycopg.AsyncConnection, search: stac.Search) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page, more, _ = await stac.search_items(conn, stac.Search(**{**search.__dict__, "after": after}))
        ids.extend(item["id"] for item in page)
        if not more:
            return ids
        after = stac_index.decode_token(stac_index.encode_token(page[-1]))


async def _expected(conn: psycopg.AsyncConnection, where: str) -> list[str]:
    cur = await conn.execute(f"SELECT id FROM stac_item WHERE {where} ORDER BY datetime, collection, id")
    return [r[0] for r in await cur.fetchall()]


async def test_both_plans_page_in_order(pg_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await _fill(conn)
        # Many matches: the ordered index.
        everything = stac.Search(bbox=(-1.0, -1.0, 11.0, 61.0), limit=700)
        page, more, total = await stac.search_items(conn, everything)
        assert total == ROWS and more and len(page) == 700
        assert await _all_pages(conn, everything) == await _expected(conn, "TRUE")
        # Few matches: the GiST index, then a sort. Cells whose box touches [2, 3] x [1, 2].
        few = stac.Search(bbox=(2.0, 1.0, 3.0, 2.0), limit=7)
        expected = await _expected(conn, "bbox && '((2,1),(3,2))'::box")
        assert 0 < len(expected) < 5000
        assert await _all_pages(conn, few) == expected
        # With the other filters.
        narrow = stac.Search(
            collections=["A1"], bbox=(2.0, 1.0, 3.0, 2.0), start=START + dt.timedelta(hours=20), limit=3
        )
        assert await _all_pages(conn, narrow) == await _expected(
            conn,
            f"collection = 'A1' AND bbox && '((2,1),(3,2))'::box AND datetime >= '{narrow.start.isoformat()}'",
        )
