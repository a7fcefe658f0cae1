"""Fixtures shared by the whole suite: a real PostgreSQL and fresh databases cloned from a template.

PostgreSQL: the server named by GEOCUBE_TEST_DATABASE_DSN when set, otherwise an embedded server
(pgserver) started for the session — the suite never skips for lack of a database.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo, sql

from services.catalogue import migrations
from libs.runtime.embedded_pg import EmbeddedPostgres

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TEMPLATE_DB = "geocube_test_template"


# Cloud credential chains end at the instance metadata services (169.254.169.254, metadata.google.internal):
# a test that forgot its credentials must fail on loopback, never send traffic off this machine.
_METADATA_ON_LOOPBACK = {
    "AWS_METADATA_ENDPOINT": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}


def pytest_configure(config: pytest.Config) -> None:
    os.environ.update(_METADATA_ON_LOOPBACK)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a PostgreSQL server (maintenance database) the suite may create databases in."""
    dsn = os.environ.get("GEOCUBE_TEST_DATABASE_DSN")
    if dsn:
        yield dsn
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), cleanup=True)
    yield server.start()
    server.stop()


def _with_db(dsn: str, dbname: str) -> str:
    return conninfo.make_conninfo(dsn, dbname=dbname)


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """Creates (once per session) a template database with every migration applied; dropped at the end
    (on a server named by GEOCUBE_TEST_DATABASE_DSN they would otherwise pile up, one per run)."""
    template = f"{TEMPLATE_DB}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))

    async def migrate() -> None:
        async with await psycopg.AsyncConnection.connect(_with_db(pg_server, template), autocommit=True) as conn:
            await migrations.apply(conn)

    asyncio.run(migrate())
    yield template
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(template)))


@pytest.fixture
def pg_dsn(pg_server: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated database for one test (cloned from the template: milliseconds)."""
    yield from _fresh_database(pg_server, pg_template)


@pytest.fixture(scope="module")
def module_pg_dsn(pg_server: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated database shared by the tests of one module (tests that tolerate each other's rows,
    e.g. the fuzz tests: a server started once per module instead of per test)."""
    yield from _fresh_database(pg_server, pg_template)


def _fresh_database(pg_server: str, pg_template: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(pg_template)))
    yield _with_db(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[object]:
    """moto's S3 server on 127.0.0.1 (a free port) for the session: `support.s3server.S3Endpoint`."""
    from support import s3server  # imported here: only sessions that use it pay for moto

    with s3server.running_s3_server() as endpoint:
        yield endpoint
