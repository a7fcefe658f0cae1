import psycopg

from services.catalogue import migrations


async def test_template_has_every_migration(pg_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT version FROM schema_migration ORDER BY version")
        assert [row[0] for row in await cur.fetchall()] == [v for v, _ in migrations.migration_files()]
        # Re-applying is a no-op: replicas starting later must not fail.
        assert await migrations.apply(conn) == []
