"""Workflow benchmarks: status transitions per second through the store, beside a raw psycopg loop on
the same database in the same run; and ready-task start latency (a tile released by a scene's DONE
report, until a long-polling worker holds its lease).

    .venv/bin/python -m benchmarks.workflow [--tiles 10000] [--samples 300] [--database-dsn DSN]

With no DSN an embedded PostgreSQL is started in a temporary folder. Figures go to stdout as markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import pathlib
import statistics
import sys
import tempfile
import time
import uuid

import grpc
import psycopg
from google.protobuf import duration_pb2
from psycopg import conninfo, sql
from psycopg_pool import AsyncConnectionPool

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, tasks_pb2, tasks_pb2_grpc, types_pb2
from services.catalogue import app, migrations
from services.catalogue.settings import CatalogueSettings
from services.catalogue.store import aois
from services.catalogue.workflow import ingest, transitions
from libs.domain import models
from libs.domain import proto_convert as pc
from libs.domain.models import Status
from libs.runtime.embedded_pg import EmbeddedPostgres

DATE = dt.datetime(2022, 1, 4, tzinfo=dt.UTC)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def scene(source_id: str, aoi: str, n_tiles: int) -> models.CatalogScene:
    tiles = [
        models.CatalogTile(
            source_id=f"T{i}", scene_id=source_id, date=DATE, data=models.TileAttrs(graph_name="Pass")
        )
        for i in range(n_tiles)
    ]
    return models.CatalogScene(
        source_id=source_id,
        aoi=aoi,
        tiles=tiles,
        data=models.SceneAttrs(
            date=DATE,
            graph_name="CopyProductToStorage",
            tiles={t.source_id: models.TileMapping() for t in tiles},
        ),
    )


async def fresh_database(admin_dsn: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = conninfo.make_conninfo(admin_dsn, dbname=name)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await migrations.apply(conn)
    return dsn


async def transitions_per_second(dsn: str, n_tiles: int) -> tuple[float, float]:
    """(store transitions/s, raw single-row updates/s): each one its own transaction, one connection."""
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        await pool.open(wait=True)
        # Scenes of 10 tiles (a Sentinel-1 product has ~27 bursts, other constellations 1 tile).
        scenes = [scene(f"S2A_BENCH_{i:05d}", "bench", 10) for i in range((n_tiles + 9) // 10)]
        async with pool.connection() as conn, conn.transaction():
            await ingest.ingest_scenes(conn, "bench", scenes, 0)
            await conn.execute("UPDATE scene SET status = 'DONE'")
            await conn.execute("UPDATE tile SET status = 'PENDING'")
            await conn.execute("DELETE FROM task")
            cur = await conn.execute("SELECT id FROM tile ORDER BY id")
            tile_ids = [row[0] for row in await cur.fetchall()]
            # The floor: the same rows and indexes without the workflow's triggers (the status counts of
            # migration 0005), so the raw loop measures a bare single-row UPDATE.
            await conn.execute("CREATE TABLE raw_tile (LIKE tile INCLUDING DEFAULTS INCLUDING INDEXES)")
            await conn.execute("INSERT INTO raw_tile SELECT * FROM tile")
        async with pool.connection() as conn:
            # What the catalogue does after an ingestion of this size (ingestion.ANALYZE_AFTER_TILES).
            await aois.refresh_statistics(conn)
        async with pool.connection() as conn:
            # Autocommit: the DONE transition is one statement (a server-side function), hence its own
            # transaction, exactly like each UPDATE of the raw loop below.
            await conn.set_autocommit(True)
            started = time.perf_counter()
            for tile_id in tile_ids:  # PENDING -> DONE through the state machine
                await transitions.update_tile(conn, tile_id, Status.DONE, "")
            store = len(tile_ids) / (time.perf_counter() - started)
            started = time.perf_counter()
            for tile_id in tile_ids:  # the floor: one UPDATE per autocommit transaction
                await conn.execute("UPDATE raw_tile SET status = 'DONE' WHERE id = %s", (tile_id,))
            raw = len(tile_ids) / (time.perf_counter() - started)
    return store, raw


async def start_latency(dsn: str, samples: int) -> list[float]:
    """Seconds from a scene's DONE report (which releases its tile) until a waiting worker has the tile."""
    running = await app.start(CatalogueSettings(database_dsn=dsn, address="127.0.0.1:0", lease_seconds=60))
    latencies = []
    try:
        async with grpc.aio.insecure_channel(running.target) as channel:
            catalogue = catalogue_pb2_grpc.CatalogueStub(channel)
            task_stub = tasks_pb2_grpc.TasksStub(channel)
            wait = duration_pb2.Duration(seconds=30)
            area = types_pb2.Area(
                name="latency",
                geometry_wkt="POINT (10 55)",
                scene_type={"constellation": "sentinel2"},
                scene_graph_name="CopyProductToStorage",
                tile_graph_name="Pass",
            )
            scenes = [
                pc.catalog_scene_to_proto(scene(f"S2A_LAT_{i:05d}", "latency", 1)) for i in range(samples)
            ]
            await catalogue.IngestArea(
                catalogue_pb2.IngestAreaRequest(area=area, tiles=catalogue_pb2.SceneList(scenes=scenes)),
                timeout=120,
            )
            for _ in range(samples):
                download = (
                    await task_stub.LeaseTask(
                        tasks_pb2.LeaseTaskRequest(
                            kind=tasks_pb2.TASK_KIND_DOWNLOAD, worker_id="bench", wait=wait
                        ),
                        timeout=40,
                    )
                ).task
                waiting = asyncio.ensure_future(
                    task_stub.LeaseTask(
                        tasks_pb2.LeaseTaskRequest(
                            kind=tasks_pb2.TASK_KIND_PROCESS, worker_id="bench", wait=wait
                        ),
                        timeout=40,
                    )
                )
                await asyncio.sleep(0.005)  # let the lease call reach its wait: we measure the wake-up
                started = time.perf_counter()
                await task_stub.ReportResult(
                    tasks_pb2.ReportResultRequest(
                        task_id=download.task_id,
                        lease_token=download.lease_token,
                        status=types_pb2.STATUS_DONE,
                    ),
                    timeout=10,
                )
                process = (await waiting).task
                latencies.append(time.perf_counter() - started)
                await task_stub.ReportResult(
                    tasks_pb2.ReportResultRequest(
                        task_id=process.task_id, lease_token=process.lease_token, status=types_pb2.STATUS_DONE
                    ),
                    timeout=10,
                )
    finally:
        await running.stop()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(args: argparse.Namespace) -> None:
    admin = args.database_dsn
    server = None
    if not admin:
        server = EmbeddedPostgres(pathlib.Path(tempfile.mkdtemp(prefix="bench-pg-")), cleanup=True)
        admin = server.start()
    try:
        say(f"transitions: {args.tiles} tiles ...")
        store, raw = await transitions_per_second(await fresh_database(admin), args.tiles)
        say(f"latency: {args.samples} samples ...")
        lat = await start_latency(await fresh_database(admin), args.samples)
    finally:
        if server is not None:
            server.stop()
    print("| measure | value |\n|---|---|")
    print(
        f"| tile transitions PENDING→DONE through the store (state machine, own transaction each) | {store:,.0f}/s |"
    )
    print(f"| raw psycopg single-row UPDATE loop, autocommit, same database and run | {raw:,.0f}/s |")
    print(f"| store / raw | {store / raw:.0%} |")
    print(
        f"| ready-task start latency p50 (scene DONE report → tile leased by a waiting worker) | {statistics.median(lat) * 1000:.1f} ms |"
    )
    print(f"| ready-task start latency p99 | {percentile(lat, 0.99) * 1000:.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiles", type=int, default=10000, help="tiles for the transition benchmark")
    parser.add_argument("--samples", type=int, default=300, help="latency samples")
    parser.add_argument("--database-dsn", default="", help="PostgreSQL server (default: embedded)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
