"""Malformed calls to every method of every catalogue service (enumerated from the generated descriptors,
so a new RPC is covered without touching this file), against the real catalogue and PostgreSQL: garbage
bytes, and messages with NUL-laden or very long strings, times out of range and random values. A status
may be anything a client can act upon, never UNKNOWN or INTERNAL (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import protofuzz

from services.catalogue import app
from services.catalogue.app import CatalogueApp

# A bugged answer; anything else (OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, a client-side
# DEADLINE_EXCEEDED for a long poll) is a status a client can act upon.
BUGS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
# Long polls (LeaseTask, WaitAoiStatus) may wait up to their `wait`: the client gives up first.
CALL_TIMEOUT = 1.0
CATALOGUE_METHODS = protofuzz.methods(app.SERVICE_NAMES)
# Bounded budget: a few dozen methods, the whole module well under a minute on two busy cores.
FUZZ = settings(
    max_examples=int(__import__("os").environ.get("FUZZ_N", "12")),
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
