"""The Geocube client against a loopback server speaking the Geocube's gRPC API: TLS with our own root
certificate and the bearer token, the ALREADY_EXISTS answers the client turns into results, and the
error classes the catalogue and the processor act upon."""

from __future__ import annotations

import datetime as dt
import ipaddress
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest
import shapely
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from libs.geocube.client import DataFormat, Dataset, GeocubeClient, GeocubeError, NewRecord
from libs.geocube.settings import GeocubeSettings
from libs.runtime.errors import InvalidArgument
from tests.support.geocube_server import FakeGeocube

TOKEN = "client-key"
SQUARE = shapely.box(10.0, 55.0, 10.5, 55.5)


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
async def tls_geocube(tmp_path: pathlib.Path) -> AsyncIterator[tuple[FakeGeocube, pathlib.Path]]:
    key, cert = _self_signed()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(cert)
    server = FakeGeocube(token=TOKEN, tls=(key, cert))
    server.add_variable("NDVI", ["v1"])
    await server.start()
    yield server, ca_file
    await server.stop()


async def test_tls_token_and_the_calls_of_an_ingestion(tls_geocube: tuple[FakeGeocube, pathlib.Path]) -> None:
    server, ca_file = tls_geocube
    settings = GeocubeSettings(
        geocube_server=server.address, geocube_ca_file=str(ca_file), geocube_token=TOKEN
    )
    client = GeocubeClient.connect(settings)
    try:
        variable = await client.get_variable(name="NDVI")
        assert variable is not None and list(variable.instances) == ["v1"]
        assert await client.get_variable(instance_id=variable.instances["v1"]) == variable
        assert await client.get_variable(name="nope") is None
        assert [v.name for v in await client.list_variables("ND*")] == ["NDVI"]

        aoi = await client.create_aoi(SQUARE)
        # The same geometry again: the Geocube answers ALREADY_EXISTS naming the AOI, which is the result.
        assert await client.create_aoi(SQUARE) == aoi and len(server.aois) == 1
        when = dt.datetime(2022, 1, 3, 10, 30, tzinfo=dt.UTC)
        (record,) = await client.create_records([NewRecord("S2A_X", when, {"k": "v"}, aoi)])
        listed = await client.list_records(
            tags={"k": "v"}, aoi=shapely.box(10.2, 55.2, 11, 56), from_time=when
        )
        assert [(r.id, r.name, r.time, r.tags, r.aoi_id) for r in listed] == [
            (record, "S2A_X", when, {"k": "v"}, aoi)
        ]
        assert await client.list_records(aoi=shapely.box(0, 0, 1, 1)) == []

        dataset = Dataset(record, variable.instances["v1"], (1,), DataFormat("float32", -1, 0, 1))
        assert await client.index_datasets("file:///a.tif", [dataset]) is True
        assert await client.index_datasets("file:///a.tif", [dataset]) is False  # already there: a redo
        assert server.containers["file:///a.tif"].datasets[0].dformat.no_data == -1
        assert await client.add_records_tags([record], {"processingDate": "x"}) == 1
        assert await client.delete_records([record]) == 0  # it has a dataset: the Geocube keeps it
    finally:
        await client.close()


async def test_errors_keep_their_meaning(tls_geocube: tuple[FakeGeocube, pathlib.Path]) -> None:
    server, ca_file = tls_geocube
    wrong = GeocubeClient.connect(
        GeocubeSettings(geocube_server=server.address, geocube_ca_file=str(ca_file), geocube_token="bad")
    )
    try:
        with pytest.raises(GeocubeError) as caught:
            await wrong.get_variable(name="NDVI")
        assert caught.value.geocube_code == grpc.StatusCode.UNAUTHENTICATED and not caught.value.temporary
    finally:
        await wrong.close()

    client = GeocubeClient.connect(
        GeocubeSettings(geocube_server=server.address, geocube_ca_file=str(ca_file), geocube_token=TOKEN)
    )
    try:
        with pytest.raises(GeocubeError) as caught:
            await client.create_records([NewRecord("", dt.datetime(2022, 1, 1, tzinfo=dt.UTC), {}, "x")])
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT  # the Geocube refused what we sent
        await server.stop()
        with pytest.raises(GeocubeError) as caught:
            await client.get_variable(name="NDVI")
        assert caught.value.temporary and caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        await client.close()


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="GEOCUBE_X_GEOCUBE_SERVER"):
        GeocubeSettings(geocube_server="no-port").check_geocube("GEOCUBE_X_")
    with pytest.raises(InvalidArgument, match="GEOCUBE_X_GEOCUBE_CA_FILE"):
        GeocubeSettings(geocube_server="h:1", geocube_ca_file="/nonexistent.pem").check_geocube("GEOCUBE_X_")
    GeocubeSettings().check_geocube("GEOCUBE_X_")  # no Geocube: nothing to check
    assert "secret" not in repr(GeocubeSettings(geocube_token="secret"))
