"""Integration fixtures: the real catalogue on 127.0.0.1:0 over a fresh database, and gRPC stubs."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from protos.ingester.v1 import catalogue_pb2_grpc, registry_pb2_grpc, tasks_pb2_grpc, workflow_pb2_grpc
from services.catalogue import app
from services.catalogue.app import CatalogueApp
from services.catalogue.settings import CatalogueSettings


@pytest.fixture
def archive_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


@pytest.fixture
async def catalogue(pg_dsn: str, archive_dir: pathlib.Path) -> AsyncIterator[CatalogueApp]:
    running = await app.start(
        CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0", archive_path=str(archive_dir), lease_seconds=5)
    )
    yield running
    await running.stop(grace=0.5)


class Stubs:
    def __init__(self, channel: grpc.aio.Channel):
        self.catalogue = catalogue_pb2_grpc.CatalogueStub(channel)
        self.tasks = tasks_pb2_grpc.TasksStub(channel)
        self.registry = registry_pb2_grpc.RegistryStub(channel)
        self.workflow = workflow_pb2_grpc.WorkflowStub(channel)


@pytest.fixture
async def stubs(catalogue: CatalogueApp) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        yield Stubs(channel)
