"""Versioned SQL migrations (schema/NNNN_name.sql), applied at start-up in order, exactly once.

An advisory lock serialises replicas starting together; each file runs in its own transaction with its
version row, so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

import logging
import pathlib

import psycopg

logger = logging.getLogger(__name__)

SCHEMA_DIR = pathlib.Path(__file__).parent / "schema"
_LOCK_ID = 0x6765_6F63  # "geoc": any constant shared by every replica


def migration_files() -> list[tuple[int, pathlib.Path]]:
    files = []
    for path in sorted(SCHEMA_DIR.glob("*.sql")):
        files.append((int(path.name.split("_", 1)[0]), path))
    return files


async def apply(conn: psycopg.AsyncConnection) -> list[int]:
    """Applies the missing migrations on an autocommit connection; returns the versions applied now."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration (version int PRIMARY KEY, name text NOT NULL,"
            " applied timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migration")
        done = {row[0] for row in await cur.fetchall()}
        applied = []
        for version, path in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migration (version, name) VALUES (%s, %s)", (version, path.name)
                )
            logger.info("applied migration %s", path.name)
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
