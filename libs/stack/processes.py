"""Workers as child processes of the local stack, configured by environment variables like on Kubernetes.

Each worker gets its own interpreter: with every service in one process, the download and processing
threads and the catalogue's event loop fought over one GIL (docs/benchmarks.md). Readiness is the
worker's gRPC health service answering SERVING (no sleep-polling: the health Watch stream pushes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProcess:
    def __init__(self, name: str, process: asyncio.subprocess.Process, address: str):
        self.name = name
        self.process = process
        self.address = address

    @classmethod
    async def start(cls, name: str, env: dict[str, str], timeout: float = 60.0) -> WorkerProcess:
        """Starts `python -m services.<name>` with GEOCUBE_<NAME>_* variables and waits until it serves."""
        prefix = f"GEOCUBE_{name.upper()}_"
        address = f"127.0.0.1:{free_port()}"
        variables = {**os.environ, **{prefix + k.upper(): v for k, v in env.items()}, prefix + "ADDRESS": address}
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", f"services.{name}", env=variables)
        worker = cls(name, process, address)
        try:
            await asyncio.wait_for(worker._serving(), timeout)
        except BaseException:
            await worker.stop()
            raise
        return worker

    async def _serving(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            await channel.channel_ready()  # connectivity events, no polling
            stub = health_pb2_grpc.HealthStub(channel)
            async for answer in stub.Watch(health_pb2.HealthCheckRequest(service="")):
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        raise RuntimeError(f"{self.name} stopped before serving")

    async def stop(self, grace: float = 30.0) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)  # the worker drains: finishes or releases its tasks
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
