import psycopg
import psycopg.types.json

from services.catalogue import migrations


async def test_template_has_every_migration(pg_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT version FROM schema_migration ORDER BY version")
        assert [row[0] for row in await cur.fetchall()] == [v for v, _ in migrations.migration_files()]
        # Re-applying is a no-op: replicas starting later must not fail.
        assert await migrations.apply(conn) == []


async def test_unpadded_scene_dates_of_earlier_versions_are_rewritten(pg_dsn: str) -> None:
    # A database from before migration 0012, holding an undated scene as the store then wrote it.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute("DELETE FROM schema_migration WHERE version = 12")
        await conn.execute("INSERT INTO aoi (id) VALUES ('Old')")
        for source_id, date in (("undated", "1-01-01T00:00:00Z"), ("dated", "2022-01-04T10:34:21Z")):
            await conn.execute(
                "INSERT INTO scene (aoi_id, status, source_id, data) VALUES ('Old', 'NEW', %s, %s)",
                (source_id, psycopg.types.json.Jsonb({"date": date, "graph_name": "g"})),
            )
        assert await migrations.apply(conn) == [12]
        cur = await conn.execute(
            "SELECT source_id, data->>'date', (data->>'date')::timestamptz, data->>'graph_name' FROM scene"
            " WHERE aoi_id = 'Old' ORDER BY source_id"
        )
        rows = await cur.fetchall()
    assert [(r[0], r[1], r[2].year, r[3]) for r in rows] == [
        ("dated", "2022-01-04T10:34:21Z", 2022, "g"),
        ("undated", "0001-01-01T00:00:00Z", 1, "g"),  # PostgreSQL read the old form as 2001
    ]
