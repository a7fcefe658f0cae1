"""A real STAC API with the Transactions extension for the tests: stac-fastapi-pgstac over a fresh pgstac
database (`pypgstac migrate`) in the PostgreSQL of GEOCUBE_TEST_PGSTAC_DSN when set, otherwise in a private
PostGIS server the suite starts (tests/support/postgis_server.py), run as a subprocess from .venv-stac
(scripts/bootstrap makes it: its FastAPI/pydantic pins stay out of our environment)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import uuid
from collections.abc import AsyncIterator

import psycopg
from psycopg import conninfo

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-stac" / "bin"
START_TIMEOUT = 120.0


def configured_server_dsn() -> str:
    """The PostgreSQL (with PostGIS) named by GEOCUBE_TEST_PGSTAC_DSN; "" to have the suite start its own."""
    return os.environ.get("GEOCUBE_TEST_PGSTAC_DSN", "")


@contextlib.asynccontextmanager
async def pgstac_database(server_dsn: str) -> AsyncIterator[str]:
    """A new database with the pgstac schema in the server `server_dsn`; dropped afterwards."""
    base = conninfo.conninfo_to_dict(server_dsn)
    name = f"pgstac_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(server_dsn, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    dsn = conninfo.make_conninfo(**{**base, "dbname": name})  # type: ignore[arg-type]
    try:
        migrate = await asyncio.create_subprocess_exec(
            str(VENV / "pypgstac"),
            "migrate",
            "--dsn",
            dsn,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(migrate.communicate(), START_TIMEOUT)
        if migrate.returncode != 0:
            raise RuntimeError(f"pypgstac migrate failed: {output.decode(errors='replace')[-2000:]}")
        yield dsn
    finally:
        async with await psycopg.AsyncConnection.connect(server_dsn, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgstacApi:
    """stac-fastapi-pgstac on 127.0.0.1:`port` over the database `dsn`; `start()`/`stop()` may repeat
    (an outage of the API, the data kept)."""

    def __init__(self, dsn: str, port: int):
        self.dsn = dsn
        self.port = port
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        params = conninfo.conninfo_to_dict(self.dsn)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGHOST": str(params.get("host") or "127.0.0.1"),
            "PGPORT": str(params.get("port") or 5432),
            "PGUSER": str(params.get("user") or "postgres"),
            "PGPASSWORD": str(params.get("password") or ""),
            "PGDATABASE": str(params["dbname"]),
            "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
            "STAC_FASTAPI_TITLE": "test pgstac",
            "STAC_FASTAPI_DESCRIPTION": "stac-fastapi-pgstac started by the test suite",
            "STAC_FASTAPI_LANDING_ID": "test-pgstac",
            "STAC_FASTAPI_VERSION": "test",
        }
        self._process = await asyncio.create_subprocess_exec(
            str(VENV / "python"),
            "-m",
            "uvicorn",
            "stac_fastapi.pgstac.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "info",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stderr is not None
        seen: list[str] = []
        try:
            # uvicorn reports on stderr once the application (and its database pools) started.
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    line = (await self._process.stderr.readline()).decode(errors="replace")
                    if not line:
                        raise RuntimeError("stac-fastapi-pgstac exited:\n" + "".join(seen[-30:]))
                    seen.append(line)
                    if "Application startup complete" in line:
                        break
        except BaseException:
            await self.stop()
            raise
        self._drain = asyncio.create_task(self._discard(self._process.stderr))

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._drain is not None:
            await asyncio.wait_for(self._drain, 10)
            self._drain = None


def missing_requirements() -> str:
    """Why the API cannot start here ("" when it can): a message for a failing test, never a skip."""
    if not (VENV / "python").exists():
        return f"{VENV.parent} is missing: run ./scripts/bootstrap"
    return ""
