"""Per-call cost of the generic request checks (libs/runtime/request_checks.py) that every unary RPC
pays: decoding through the tolerant deserializer, then the walk over the fields that can hold a string or
a time. A measure to record in docs/benchmarks.md, not a test.

    .venv/bin/python -m benchmarks.request_checks [--number 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
import timeit
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.ingester.v1 import tasks_pb2, types_pb2, workflow_pb2
from libs.runtime import request_checks
from libs.runtime import server as runtime_server


def _requests() -> dict[str, Message]:
    lease = tasks_pb2.LeaseTaskRequest(
        kind=tasks_pb2.TASK_KIND_PROCESS,
        worker_id="processor-7f9c4d-0",
        wait=duration_pb2.Duration(seconds=30),
    )
    report = tasks_pb2.ReportResultRequest(
        task_id=123456,
        lease_token="0b7c3f5e-9a51-4c1f-8d1e-3f5a7c9e2b11",
        status=types_pb2.STATUS_FAILED,
        message="download failed: 503 Service Unavailable from https://zipper.dataspace.copernicus.eu/…",
        lease_next=tasks_pb2.TASK_KIND_PROCESS,
        worker_id="processor-7f9c4d-0",
    )
    scene = types_pb2.CatalogScene(
        id=1, source_id="S2A_MSIL1C_20220104T103421_N0301_R108_T32VNH", aoi="Denmark"
    )
    scene.data.date.FromJsonString("2022-01-04T10:34:21.024Z")
    scene.data.metadata.update({"uuid": "abc", "download_link": "https://x/y.zip", "cloud": 12.5})
    scene.tags.update({f"tag{i}": f"value{i}" for i in range(8)})
    scene.wkt = "POLYGON((" + ", ".join(f"{i} {i}" for i in range(50)) + "))"
    for i in range(3):
        tile = scene.tiles.add(source_id=f"A44_IW{i}_8951", scene_id=scene.source_id, wkt=scene.wkt)
        tile.date.CopyFrom(scene.data.date)
    return {
        "LeaseTaskRequest": lease,
        "ReportResultRequest": report,
        "IngestSceneRequest (3 tiles)": workflow_pb2.IngestSceneRequest(scene=scene),
    }


async def _round_trip(calls: int) -> float:
    """Seconds per health Check on loopback through the real server plumbing: the scale to compare with."""
    server = await runtime_server.start_server("127.0.0.1:0", [], [])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            await check(health_pb2.HealthCheckRequest(), timeout=10)
            started = time.perf_counter()
            for _ in range(calls):
                await check(health_pb2.HealthCheckRequest(), timeout=10)
            return (time.perf_counter() - started) / calls
    finally:
        await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("| request | bytes | decode alone (µs) | decode + checks (µs) | checks (µs) |")
    print("|---|---:|---:|---:|---:|")
    for name, request in _requests().items():
        data = request.SerializeToString()
        plain = type(request).FromString
        tolerant = request_checks._tolerant(plain)

        def checked(data: bytes = data, tolerant: Callable[[bytes], Any] = tolerant) -> None:
            request_checks.check_request(tolerant(data))

        request_checks.check_request(plain(data))  # warm the per-type caches
        base = (
            min(timeit.repeat(functools.partial(plain, data), number=args.number, repeat=args.repeat))
            / args.number
        )
        full = min(timeit.repeat(checked, number=args.number, repeat=args.repeat)) / args.number
        print(f"| {name} | {len(data)} | {base * 1e6:.2f} | {full * 1e6:.2f} | {(full - base) * 1e6:.2f} |")
    per_call = asyncio.run(_round_trip(2000))
    print(f"\nunary round trip on loopback (health Check, 2000 calls): {per_call * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
