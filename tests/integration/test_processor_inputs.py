"""The processor deletes a task's `to_delete` inputs only once the catalogue has accepted its result.

Deleted before the report (as the reference does), a task whose report is refused (its lease expired and
was taken over: a catalogue restart, a stalled worker) is redone without its inputs, and the tile ends
RETRY although its outputs were stored and indexed. tests/e2e/test_faults.py found it with a catalogue
restart; here the lease is taken over at a chosen instant.
"""

from __future__ import annotations

import json
import pathlib

import psycopg

from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, types_pb2
from libs.demo.archive import build_demo_archive
from services.downloader import worker as downloader
from libs.graph.loader import LIBRARY_DIR
from services.processor import worker as processor
from tests.integration.test_workers import (
    BANDS,
    GATE_SCRIPT,
    RPC_TIMEOUT,
    _all_done,
    _area,
    _async,
    _create_band_instances,
    _downloader_settings,
    _processor_settings,
    running,
    running_catalogue,
    wait_for,
)


def _gated_extract(graphs: pathlib.Path) -> None:
    """ExtractS2Bands (12 bands indexed, the product deleted), plus a step waiting for the test's gate."""
    graph = json.loads((LIBRARY_DIR / "ExtractS2Bands.json").read_text())
    graph["config"]["gate"] = ""
    graph["processing_steps"].append(
        {
            "engine": "python",
            "command": "wait_for_gate.py",
            "args": {"gate": {"type": "config", "value": "gate"}},
            "condition": "pass",
        }
    )
    graphs.mkdir()
    (graphs / "GatedExtract.json").write_text(json.dumps(graph))
    (graphs / "wait_for_gate.py").write_text(GATE_SCRIPT)


async def test_inputs_survive_a_refused_report(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    archive, graphs, gate = tmp_path / "archive", tmp_path / "graphs", tmp_path / "gate"
    (source_id,) = build_demo_archive(archive, count=1, band_size=32)
    _gated_extract(graphs)
    tile_dir = tmp_path / "storage" / "Refused" / source_id / "tiles" / source_id
    product = tile_dir / f"{source_id}.zip"
    # A long lease: no heartbeat comes while the test works (a heartbeat would see the lease gone and
    # cancel the job, which is the other way of losing a lease).
    async with running_catalogue(pg_dsn, archive, lease_seconds=30.0) as (catalogue, channel):
        await _create_band_instances(channel)
        area = _area(
            "Refused",
            "CopyProductToStorage",
            "GatedExtract.json",
            limit=1,
            layers={band: types_pb2.Layer(variable=band, instance="raw") for band in BANDS},
        )
        area.graph_config.entries["gate"] = str(gate)
        stub = catalogue_pb2_grpc.CatalogueStub(channel)
        await stub.IngestArea(catalogue_pb2.IngestAreaRequest(area=area), timeout=RPC_TIMEOUT)
        settings = _processor_settings(
            tmp_path, catalogue.target, graph_path=(str(graphs),), concurrency=1, lease_wait_seconds=1.0
        )
        async with (
            running(downloader.start(_downloader_settings(tmp_path, catalogue.target, archive))),
            running(processor.start(settings)) as worker,
            await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn,
        ):
            await wait_for(lambda: _async(bool(worker.status().current)), "the processor to lease the tile")
            # Another worker takes the lease over (what an expiry followed by a new lease does).
            await conn.execute("UPDATE task SET lease_token = gen_random_uuid() WHERE kind = 'process'")
            gate.touch()
            await wait_for(lambda: _async(not worker.status().current), "the job to end", 60)
            # The job stored and indexed its outputs, its report was refused: its input is still there.
            assert product.is_file()
            # The lease expires: the task is leased again, and this time the report is accepted.
            await conn.execute("UPDATE task SET lease_expires = now() - interval '1 second'")
            await wait_for(lambda: _all_done(channel, "Refused", 1), "the tile DONE", 60)
            datasets = await (await conn.execute("SELECT uri FROM dataset")).fetchall()
    # The workers are stopped: the clean-up that follows an accepted report is over.
    assert not product.exists()
    assert sorted(p.name for p in tile_dir.iterdir()) == sorted(uri.rsplit("/", 1)[-1] for (uri,) in datasets)
    assert len(datasets) == len(BANDS)  # indexed twice, registered once
