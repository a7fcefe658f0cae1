"""Malformed calls to every method of every catalogue service and of the workers' status servers
(enumerated from the generated descriptors, so a new RPC is covered without touching this file), against
the real catalogue and PostgreSQL: garbage bytes, and messages with NUL-laden or very long strings, times
out of range and random values. A status may be anything a client can act upon, never UNKNOWN or
INTERNAL (issue 11)."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import protofuzz

from protos.ingester.v1 import workflow_pb2, workflow_pb2_grpc
from services.catalogue import app
from services.catalogue.app import CatalogueApp
from services.downloader import worker as downloader
from services.downloader.settings import DownloaderSettings
from services.processor import worker as processor
from services.processor.settings import ProcessorSettings

# A bugged answer; anything else (OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, a client-side
# DEADLINE_EXCEEDED for a long poll) is a status a client can act upon.
BUGS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
# Long polls (LeaseTask, WaitAoiStatus) may wait up to their `wait`: the client gives up first.
CALL_TIMEOUT = 1.0
CATALOGUE_METHODS = protofuzz.methods(app.SERVICE_NAMES)
# Bounded budget: a few dozen methods, the whole module well under a minute on two busy cores.
# GEOCUBE_FUZZ_EXAMPLES=300 digs deeper (minutes).
FUZZ = settings(
    max_examples=int(os.environ.get("GEOCUBE_FUZZ_EXAMPLES", "12")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def channel(catalogue: CatalogueApp) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(catalogue.target) as chan:
        yield chan


async def _status(
    channel: grpc.aio.Channel, method: descriptor.MethodDescriptor, body: bytes
) -> tuple[grpc.StatusCode, str]:
    # Raw bytes both ways: the server alone decides what the request means.
    call = channel.unary_unary(protofuzz.method_path(method))
    try:
        await asyncio.wait_for(call(body, timeout=CALL_TIMEOUT), CALL_TIMEOUT + 5)
    except grpc.aio.AioRpcError as error:
        assert error.code() not in BUGS, f"{method.full_name}: {error.code()} {error.details()}"
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def test_every_catalogue_service_is_covered() -> None:
    assert {m.containing_service.name for m in CATALOGUE_METHODS} == {
        "Catalogue",
        "Tasks",
        "Registry",
        "Workflow",
    }
    assert len(CATALOGUE_METHODS) >= 30


@pytest.mark.parametrize("method", CATALOGUE_METHODS, ids=lambda m: m.full_name.removeprefix("ingester.v1."))
@FUZZ
@given(body=st.one_of(st.binary(min_size=1, max_size=64), st.just(b"\xff\xff\xff\xff")))
async def test_garbage_bytes(
    channel: grpc.aio.Channel, method: descriptor.MethodDescriptor, body: bytes
) -> None:
    await _status(channel, method, body)


@pytest.mark.parametrize("method", CATALOGUE_METHODS, ids=lambda m: m.full_name.removeprefix("ingester.v1."))
@FUZZ
@given(data=st.data())
async def test_random_messages(
    channel: grpc.aio.Channel, method: descriptor.MethodDescriptor, data: st.DataObject
) -> None:
    request = data.draw(protofuzz.message_values(method.input_type), label="request")
    await _status(channel, method, request.SerializeToString())


@pytest.mark.parametrize("method", CATALOGUE_METHODS, ids=lambda m: m.full_name.removeprefix("ingester.v1."))
async def test_undecodable_bytes_name_the_request_message(
    channel: grpc.aio.Channel, method: descriptor.MethodDescriptor
) -> None:
    # A length-delimited field 1 that claims more bytes than follow: no message decodes from that.
    code, details = await _status(channel, method, b"\x0a\x7fshort")
    assert (code, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"request: not a valid {method.input_type.name}",
    )


async def test_an_overlong_name_is_invalid_argument_not_unavailable(channel: grpc.aio.Channel) -> None:
    # PostgreSQL refuses it for good (index row too large): retrying, as UNAVAILABLE says, cannot help.
    create = workflow_pb2_grpc.WorkflowStub(channel).CreateAoi
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(workflow_pb2.CreateAoiRequest(aoi=protofuzz.INCOMPRESSIBLE), timeout=10)
    assert (raised.value.code(), raised.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "request: a value is too long to be stored (shorten names and ids)",
    )


WORKER_METHODS = protofuzz.methods([downloader.SERVICE_NAME, processor.SERVICE_NAME])


@pytest.fixture
async def worker_channels(
    catalogue: CatalogueApp, tmp_path: pathlib.Path
) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    """The downloader's and the processor's own gRPC servers (GetStatus, health), by service name."""
    common = {
        "catalogue_address": catalogue.target,
        "address": "127.0.0.1:0",
        "storage_uri": str(tmp_path / "s"),
    }
    workers = [
        await asyncio.wait_for(
            downloader.start(
                DownloaderSettings(workdir=str(tmp_path / "d"), local_path=str(tmp_path), **common)
            ),
            30,
        ),
        await asyncio.wait_for(processor.start(ProcessorSettings(workdir=str(tmp_path / "p"), **common)), 30),
    ]
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{w.port}") for w in workers]
    try:
        yield dict(zip([downloader.SERVICE_NAME, processor.SERVICE_NAME], channels, strict=True))
    finally:
        for chan in channels:
            await chan.close()
        for w in workers:
            await asyncio.wait_for(w.stop(grace=1.0), 30)


@pytest.mark.parametrize("method", WORKER_METHODS, ids=lambda m: m.full_name.removeprefix("ingester.v1."))
@FUZZ
@given(data=st.data())
async def test_worker_status_servers(
    worker_channels: dict[str, grpc.aio.Channel], method: descriptor.MethodDescriptor, data: st.DataObject
) -> None:
    channel = worker_channels[method.containing_service.full_name]
    garbage = data.draw(st.binary(min_size=1, max_size=32), label="garbage")
    await _status(channel, method, garbage)
    request = data.draw(protofuzz.message_values(method.input_type), label="request")
    await _status(channel, method, request.SerializeToString())
