"""Authentication and TLS of the gRPC services, on real servers: every RPC of every service refuses a call
without an accepted bearer token, health stays open, rotation tokens and token files work, TLS and mTLS
with certificates made here, and the whole stack (gateway, catalogue, worker processes) runs with tokens."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.protobuf import descriptor as pb_descriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from support.tls import Pki, make_pki

from gateway.settings import GatewaySettings
from protos.ingester.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    processor_pb2,
    processor_pb2_grpc,
    registry_pb2,
    tasks_pb2,
    workflow_pb2,
)
from services.catalogue import app
from services.catalogue.app import CatalogueApp
from services.catalogue.settings import CatalogueSettings
from services.processor import worker as processor
from services.processor.settings import ProcessorSettings
from libs.runtime import channels
from libs.runtime.auth import ClientSecurity, ServerSecurity, ServerSecuritySettings
from libs.runtime.errors import InvalidArgument
from libs.stack import demo
from libs.stack.local import StackConfig, start_stack

pytestmark = pytest.mark.timeout(240)
TIMEOUT = 30.0
ROOT = pathlib.Path(__file__).resolve().parents[2]
OLD, NEW = "old-token-0123456789", "new-token-9876543210"


def _methods(*files: pb_descriptor.FileDescriptor) -> list[tuple[str, pb_descriptor.MethodDescriptor]]:
    return [
        (f"/{service.full_name}/{method.name}", method)
        for file in files
        for service in file.services_by_name.values()
        for method in service.methods
    ]


CATALOGUE_METHODS = _methods(
    catalogue_pb2.DESCRIPTOR, tasks_pb2.DESCRIPTOR, registry_pb2.DESCRIPTOR, workflow_pb2.DESCRIPTOR
)


async def _call_raw(
    channel: grpc.aio.Channel, path: str, method: pb_descriptor.MethodDescriptor, metadata: tuple = ()
) -> grpc.StatusCode:
    """Calls `path` with an empty request (raw bytes: no stub needed) and returns the status."""
    try:
        if method.server_streaming:
            call = channel.unary_stream(path)(b"", timeout=TIMEOUT, metadata=metadata)
            async for _ in call:
                pass
        else:
            await channel.unary_unary(path)(b"", timeout=TIMEOUT, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.fixture
async def secured(pg_dsn: str, tmp_path: pathlib.Path) -> AsyncIterator[CatalogueApp]:
    # Two accepted tokens (rotation): one in the setting, one in a mounted-Secret-like file.
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"{NEW}\n")
    running = await app.start(
        CatalogueSettings(
            database_dsn=pg_dsn, address="127.0.0.1:0", auth_tokens=(OLD,), auth_tokens_file=str(tokens_file)
        )
    )
    yield running
    await running.stop(grace=0.5)


async def test_every_catalogue_rpc_refuses_missing_or_wrong_tokens(secured: CatalogueApp) -> None:
    assert len(CATALOGUE_METHODS) > 30  # every RPC of the four services, enumerated from the protos
    async with grpc.aio.insecure_channel(secured.target) as channel:
        for path, method in CATALOGUE_METHODS:
            for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", OLD),)):
                code = await _call_raw(channel, path, method, metadata)
                assert code == grpc.StatusCode.UNAUTHENTICATED, (path, metadata, code)
        # An unknown method too: UNIMPLEMENTED would tell a caller without a token what exists.
        unknown = catalogue_pb2.DESCRIPTOR.services_by_name["Catalogue"].methods[0]
        assert await _call_raw(channel, "/ingester.v1.Nope/Nope", unknown) == grpc.StatusCode.UNAUTHENTICATED
        # Health answers without a token (kubelet probes), for the server and each service.
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", *app.SERVICE_NAMES]:
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        # Reflection is not open.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT
            ):
                pass
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "authorization" in (refused.value.details() or "")


async def test_accepted_tokens_reach_the_servicers(secured: CatalogueApp) -> None:
    for token in (OLD, NEW):
        async with channels.catalogue_channel(secured.target, ClientSecurity(token=token)) as channel:
            stub = catalogue_pb2_grpc.CatalogueStub(channel)
            assert list((await stub.ListAois(catalogue_pb2.ListAoisRequest(), timeout=TIMEOUT)).aois) == []
            # Past the interceptor, a malformed request meets the servicer's own checks, not UNAUTHENTICATED.
            for path, method in CATALOGUE_METHODS:
                if method.name in ("WaitAoiStatus", "LeaseTask"):
                    continue  # long-polls: nothing about authentication to learn from waiting
                assert await _call_raw(channel, path, method) != grpc.StatusCode.UNAUTHENTICATED, path
            answers = [
                answer
                async for answer in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT
                )
            ]
            names = {s.name for s in answers[0].list_services_response.service}
            assert set(app.SERVICE_NAMES) <= names


def test_non_loopback_without_credentials_is_refused() -> None:
    for address in ("0.0.0.0:50051", "[::]:50051", "10.1.2.3:50051", "catalogue:50051"):
        with pytest.raises(InvalidArgument) as refused:
            ServerSecurity.from_settings(ServerSecuritySettings(), "GEOCUBE_CATALOGUE_", address)
        assert refused.value.field == "GEOCUBE_CATALOGUE_AUTH_TOKENS"
        assert "GEOCUBE_CATALOGUE_ALLOW_UNAUTHENTICATED=true" in str(refused.value)
        allowed = ServerSecurity.from_settings(
            ServerSecuritySettings(allow_unauthenticated=True), "GEOCUBE_CATALOGUE_", address
        )
        assert not allowed.authenticates
    for address in ("127.0.0.1:0", "localhost:50051", "[::1]:1", "unix:/tmp/socket"):
        assert not ServerSecurity.from_settings(ServerSecuritySettings(), "P_", address).authenticates
    with_token = ServerSecurity.from_settings(ServerSecuritySettings(auth_tokens=(OLD,)), "P_", "0.0.0.0:1")
    assert with_token.authenticates and OLD not in repr(with_token)


def test_token_and_certificate_files_are_read_and_checked(tmp_path: pathlib.Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{NEW}\n")  # as `kubectl create secret --from-file` leaves it
    client = ClientSecurity.for_catalogue(
        GatewaySettings(catalogue_token_file=str(token_file)), "GEOCUBE_GATEWAY_"
    )
    assert client.token == NEW and NEW not in repr(client) and not client.tls
    with pytest.raises(InvalidArgument) as unreadable:
        ClientSecurity.for_catalogue(
            GatewaySettings(catalogue_token_file=str(tmp_path / "missing")), "GEOCUBE_GATEWAY_"
        )
    assert unreadable.value.field == "GEOCUBE_GATEWAY_CATALOGUE_TOKEN_FILE"
    with pytest.raises(InvalidArgument) as half:
        ClientSecurity.for_catalogue(
            GatewaySettings(catalogue_tls_cert_file=str(token_file)), "GEOCUBE_GATEWAY_"
        )
    assert half.value.field == "GEOCUBE_GATEWAY_CATALOGUE_TLS_CERT_FILE"
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"{OLD}\n\n{NEW}, third\n")
    server = ServerSecurity.from_settings(
        ServerSecuritySettings(auth_tokens_file=str(tokens_file)), "P_", "0.0.0.0:1"
    )
    assert server.tokens == (OLD.encode(), NEW.encode(), b"third")
    for settings, field in (
        (ServerSecuritySettings(auth_tokens=(OLD,), tls_cert_file=str(token_file)), "P_TLS_KEY_FILE"),
        (
            ServerSecuritySettings(auth_tokens=(OLD,), tls_client_ca_file=str(token_file)),
            "P_TLS_CLIENT_CA_FILE",
        ),
        (ServerSecuritySettings(auth_tokens_file=str(tmp_path / "missing")), "P_AUTH_TOKENS_FILE"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            ServerSecurity.from_settings(settings, "P_", "127.0.0.1:0")
        assert refused.value.field == field


@pytest.mark.parametrize("service", ["catalogue", "downloader", "processor"])
def test_standalone_service_on_all_interfaces_without_token_exits_with_one_line(
    service: str, tmp_path: pathlib.Path
) -> None:
    prefix = f"GEOCUBE_{service.upper()}_"
    env = {
        **os.environ,
        prefix + "ADDRESS": "0.0.0.0:0",
        # Enough for the other settings to pass: the security check must be what stops the start.
        "GEOCUBE_CATALOGUE_DATABASE_DSN": "postgresql://nobody@127.0.0.1:1/none",
        prefix + "CATALOGUE_ADDRESS": "127.0.0.1:1",
        prefix + "STORAGE_URI": str(tmp_path),
        prefix + "LOCAL_PATH": str(tmp_path),
    }
    env.pop(prefix + "AUTH_TOKENS", None)
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{service}: {prefix}AUTH_TOKENS: required"), lines


async def test_worker_status_port_needs_its_token(secured: CatalogueApp, tmp_path: pathlib.Path) -> None:
    settings = ProcessorSettings(
        catalogue_address=secured.target,
        catalogue_token=NEW,
        address="127.0.0.1:0",
        auth_tokens=("worker-status-token",),
        storage_uri=str(tmp_path / "storage"),
        workdir=str(tmp_path / "work"),
        lease_wait_seconds=1.0,
        worker_id="pr-auth",
    )
    worker = await asyncio.wait_for(processor.start(settings), TIMEOUT)
    try:
        target = f"127.0.0.1:{worker.port}"
        async with grpc.aio.insecure_channel(target) as bare:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await processor_pb2_grpc.ProcessorStub(bare).GetStatus(
                    processor_pb2.GetProcessorStatusRequest(), timeout=TIMEOUT
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            health = await health_pb2_grpc.HealthStub(bare).Check(
                health_pb2.HealthCheckRequest(), timeout=TIMEOUT
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        async with channels.channel(target, ClientSecurity(token="worker-status-token")) as own:
            status = await processor_pb2_grpc.ProcessorStub(own).GetStatus(
                processor_pb2.GetProcessorStatusRequest(), timeout=TIMEOUT
            )
            assert status.worker_id == "pr-auth"
        # The worker leases from the secured catalogue with its token: a refused LeaseTask would have
        # been counted as a lease error by now; the long-poll shows as a waiting worker instead.
        assert worker.status().worker_id == "pr-auth"
    finally:
        await asyncio.wait_for(worker.stop(grace=2.0), TIMEOUT)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def test_tls_with_token(pg_dsn: str, pki: Pki) -> None:
    running = await app.start(
        CatalogueSettings(
            database_dsn=pg_dsn,
            address="127.0.0.1:0",
            auth_tokens=(OLD,),
            tls_cert_file=str(pki.server_cert),
            tls_key_file=str(pki.server_key),
        )
    )
    try:
        ca = pki.ca.read_bytes()
        async with channels.channel(running.target, ClientSecurity(token=OLD, ca=ca)) as channel:
            stub = catalogue_pb2_grpc.CatalogueStub(channel)
            assert list((await stub.ListAois(catalogue_pb2.ListAoisRequest(), timeout=TIMEOUT)).aois) == []
        async with channels.channel(running.target, ClientSecurity(ca=ca)) as no_token:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await catalogue_pb2_grpc.CatalogueStub(no_token).ListAois(
                    catalogue_pb2.ListAoisRequest(), timeout=TIMEOUT
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Plaintext to a TLS port never gets an answer (the handshake fails).
        async with grpc.aio.insecure_channel(running.target) as plain:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert failed.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await running.stop(grace=0.5)


async def test_mtls_authenticates_without_token(pg_dsn: str, pki: Pki) -> None:
    # mTLS counts as authentication: even on a non-loopback address no token is required.
    settings = CatalogueSettings(
        database_dsn=pg_dsn,
        address="127.0.0.1:0",
        tls_cert_file=str(pki.server_cert),
        tls_key_file=str(pki.server_key),
        tls_client_ca_file=str(pki.ca),
    )
    assert ServerSecurity.from_settings(settings, "GEOCUBE_CATALOGUE_", "0.0.0.0:50051").authenticates
    running = await app.start(settings)
    try:
        ca = pki.ca.read_bytes()
        client = ClientSecurity(ca=ca, cert=pki.client_cert.read_bytes(), key=pki.client_key.read_bytes())
        async with channels.channel(running.target, client) as channel:
            stub = catalogue_pb2_grpc.CatalogueStub(channel)
            assert list((await stub.ListAois(catalogue_pb2.ListAoisRequest(), timeout=TIMEOUT)).aois) == []
        async with channels.channel(running.target, ClientSecurity(ca=ca)) as anonymous:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await catalogue_pb2_grpc.CatalogueStub(anonymous).ListAois(
                    catalogue_pb2.ListAoisRequest(), timeout=5
                )
            assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await running.stop(grace=0.5)


async def test_whole_stack_runs_with_tokens(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    """`up`/`demo`: one random token wires the catalogue, the worker processes and the gateway."""
    from libs.demo.archive import build_demo_archive

    archive = tmp_path / "archive"
    build_demo_archive(archive, count=1, band_size=32)
    stack = await start_stack(
        StackConfig(
            workdir=tmp_path / "var",
            database_dsn=pg_dsn,
            archive_path=str(archive),
            http_address="127.0.0.1:0",
            catalogue_address="127.0.0.1:0",
            concurrency=1,
        )
    )
    try:
        assert len(stack.grpc_token) >= 32
        async with grpc.aio.insecure_channel(stack.catalogue_target) as bare:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await catalogue_pb2_grpc.CatalogueStub(bare).ListAois(
                    catalogue_pb2.ListAoisRequest(), timeout=TIMEOUT
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        payload = json.loads(demo.PAYLOAD.read_text())
        headers = {"Authorization": f"Bearer {stack.token}"}
        async with httpx.AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=120) as client:
            await demo.register_layers(client, payload["layers"])
            await demo.post_payload(client, tmp_path, demo.PAYLOAD.read_bytes())
            counts = await demo.wait_until_finished(client, payload["name"], 180)
        assert counts["Scenes"]["done"] == counts["Scenes"]["total"] == 1
        assert counts["Tiles"]["done"] == counts["Tiles"]["total"] == 1
    finally:
        await stack.stop()
