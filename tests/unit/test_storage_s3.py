"""s3:// and gs:// storage (obstore) against a real S3 endpoint (moto's server on loopback, behind a
proxy for gs://: support/s3server.py): round trips, multipart uploads that stay invisible until
complete, NotFound, keys, zip layers, URI forms, credentials sent, errors, settings."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from support.httpserver import LocalHTTPServer, Request, Response
from support.s3server import SERVICE_ACCOUNT_EMAIL, S3Endpoint
from test_storage_layers import S2_SCENE, make_safe, make_tile, tree

from libs.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from libs.runtime.settings import from_env
from libs.storage import ObjectStorage, ObjectStoreConfig, layers, open_storage, stores
from libs.storage.backend import StorageAccessDenied
from libs.worker.outcome import is_fatal, is_temporary
from libs.worker.settings import WorkerSettings

MIB = 1024 * 1024


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> str:
    return s3_endpoint.new_bucket()


def _file(path: pathlib.Path, content: bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _keys(s3_endpoint: S3Endpoint, bucket: str) -> list[str]:
    client = s3_endpoint.client()
    try:
        return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))
    finally:
        client.close()


def _uploads_in_progress(s3_endpoint: S3Endpoint, bucket: str) -> int:
    client = s3_endpoint.client()
    try:
        return len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    finally:
        client.close()


def test_uri_forms() -> None:
    config = ObjectStoreConfig(s3_endpoint_url="http://127.0.0.1:9")  # never contacted
    assert open_storage("s3://bucket", config).uri("a/b.tif") == "s3://bucket/a/b.tif"
    assert open_storage("s3://bucket/", config).uri("a/b.tif") == "s3://bucket/a/b.tif"
    assert (
        open_storage("s3://bucket/pre/fix/", config).uri("my aoi/b.tif") == "s3://bucket/pre/fix/my aoi/b.tif"
    )
    gs = open_storage("gs://my-bucket.example/root", config)
    assert isinstance(gs, ObjectStorage)
    assert gs.uri("a") == "gs://my-bucket.example/root/a"
    assert repr(gs) == "ObjectStorage('gs://my-bucket.example/root')"


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("s3://", "names no bucket"),
        ("gs:///prefix", "names no bucket"),
        ("s3://Upper_Case/x", "not a valid bucket name"),
        ("s3://user@bucket/x", "not a valid bucket name"),
        ("s3://bucket:9000/x", "not a valid bucket name"),
        ("s3://bucket/a/../b", "'..'"),
        ("s3://bucket/a//b", "empty"),
        ("s3://bucket/x?versionId=1", "query"),
        ("ftp://host/x", "'ftp'"),
        ("https://example.com/x", "'https'"),
    ],
)
def test_open_storage_rejects(uri: str, needle: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        open_storage(uri)
    assert exc.value.field == "storage_uri"
    assert needle in str(exc.value)


def test_put_get_exists_delete(s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path) -> None:
    storage = open_storage(f"s3://{bucket}/root", s3_endpoint.config())
    content = os.urandom(100_000)
    source = _file(tmp_path / "work" / "f.tif", content)
    assert not storage.exists("aoi/s/tiles/t/f.tif")
    assert storage.put_file(source, "aoi/s/tiles/t/f.tif") == f"s3://{bucket}/root/aoi/s/tiles/t/f.tif"
    assert _keys(s3_endpoint, bucket) == ["root/aoi/s/tiles/t/f.tif"]
    assert storage.exists("aoi/s/tiles/t/f.tif")
    storage.get_file("aoi/s/tiles/t/f.tif", tmp_path / "back" / "deep" / "f.tif")
    assert (tmp_path / "back" / "deep" / "f.tif").read_bytes() == content
    # The download went through a temporary name: nothing else is left beside the file.
    assert [p.name for p in (tmp_path / "back" / "deep").iterdir()] == ["f.tif"]
    storage.delete("aoi/s/tiles/t/f.tif")
    assert not storage.exists("aoi/s/tiles/t/f.tif")
    assert _keys(s3_endpoint, bucket) == []


def test_missing_objects_are_not_found(s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path) -> None:
    storage = open_storage(f"s3://{bucket}/root/", s3_endpoint.config())
    with pytest.raises(NotFound) as exc:
        storage.get_file("a/missing.tif", tmp_path / "missing.tif")
    assert str(exc.value) == f"File not found: s3://{bucket}/root/a/missing.tif"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NotFound) as exc:
        storage.delete("a/missing.tif")
    assert str(exc.value) == f"File not found: s3://{bucket}/root/a/missing.tif"
    missing_bucket = open_storage("s3://no-such-bucket-here", s3_endpoint.config())
    assert not missing_bucket.exists("k")
    with pytest.raises(NotFound):
        missing_bucket.get_file("k", tmp_path / "k")


@pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../../up", "a//b", "a/./b", "a\\b", "nul\x00"])
def test_keys_that_would_escape_the_prefix_are_refused(
    s3_endpoint: S3Endpoint, key: str, tmp_path: pathlib.Path
) -> None:
    storage = open_storage("s3://bucket/root", s3_endpoint.config())
    source = _file(tmp_path / "f", b"x")
    for call in (
        lambda: storage.uri(key),
        lambda: storage.put_file(source, key),
        lambda: storage.get_file(key, tmp_path / "g"),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(InvalidArgument) as exc:
            call()
        assert exc.value.field == "key"


def test_a_large_file_goes_as_a_multipart_upload_invisible_until_complete(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    storage = open_storage(f"s3://{bucket}", s3_endpoint.config(storage_multipart_threshold=5 * MIB))
    assert isinstance(storage, ObjectStorage)
    content = os.urandom(6 * MIB + 123)
    source = _file(tmp_path / "product.zip", content)
    observed: list[Any] = []
    client = s3_endpoint.client()

    first_call = threading.Lock()

    def watch(sent: int) -> None:
        # As the first part is read: no object yet, one multipart upload in progress.
        if not first_call.acquire(blocking=False):
            return
        try:
            client.head_object(Bucket=bucket, Key="p/product.zip")
            observed.append("visible")
        except botocore.exceptions.ClientError as exc:
            observed.append(exc.response["Error"]["Code"])
        observed.append(len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])))

    storage.put_file(source, "p/product.zip", progress=watch)
    assert observed == ["404", 1]
    # A multipart ETag ends with the number of parts: 5 MiB + the rest.
    assert client.head_object(Bucket=bucket, Key="p/product.zip")["ETag"].strip('"').endswith("-2")
    client.close()
    assert _uploads_in_progress(s3_endpoint, bucket) == 0
    storage.get_file("p/product.zip", tmp_path / "back.zip")
    assert (tmp_path / "back.zip").read_bytes() == content


def test_an_abandoned_multipart_upload_is_aborted_and_leaves_nothing(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    config = s3_endpoint.config(storage_multipart_threshold=5 * MIB, max_attempts=1)
    storage = open_storage(f"s3://{bucket}", config)
    source = _file(tmp_path / "product.zip", os.urandom(6 * MIB))

    def give_up(sent: int) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        storage.put_file(source, "p/product.zip", progress=give_up)
    assert _keys(s3_endpoint, bucket) == []
    assert _uploads_in_progress(s3_endpoint, bucket) == 0


def test_zip_layers_round_trip_through_s3(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    storage = open_storage(f"s3://{bucket}/archive", s3_endpoint.config())
    workdir = tmp_path / "work"
    workdir.mkdir()
    safe = make_safe(workdir)
    expected = tree(safe)
    tile = make_tile(S2_SCENE)
    uri = layers.save_layer(storage, workdir, tile, "__product__", "SAFE")
    assert uri == f"s3://{bucket}/archive/denmark/{S2_SCENE}/tiles/{S2_SCENE}/{S2_SCENE}.zip"
    other = tmp_path / "other"
    other.mkdir()
    restored = layers.import_layer(storage, other, tile, "__product__", "SAFE")
    assert restored == other / f"{S2_SCENE}.SAFE"
    assert tree(restored) == expected
    assert [p.name for p in other.iterdir()] == [f"{S2_SCENE}.SAFE"]
    layers.delete_layer(storage, tile, "__product__", "SAFE")
    with pytest.raises(NotFound, match="File not found: s3://"):
        layers.delete_layer(storage, tile, "__product__", "SAFE")


def test_gs_with_a_service_account_key_round_trips(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    # obstore's GCS client (Google's XML API, a JWT signed with the key) against moto behind the proxy.
    storage = open_storage(f"gs://{bucket}/g", s3_endpoint.config(storage_multipart_threshold=5 * MIB))
    source = _file(tmp_path / "b.tif", b"gs bytes")
    assert storage.put_file(source, "a/b.tif") == f"gs://{bucket}/g/a/b.tif"
    assert _keys(s3_endpoint, bucket) == ["g/a/b.tif"]
    storage.get_file("a/b.tif", tmp_path / "back.tif")
    assert (tmp_path / "back.tif").read_bytes() == b"gs bytes"
    large = os.urandom(6 * MIB)
    storage.put_file(_file(tmp_path / "large.zip", large), "a/large.zip")  # Google's XML multipart upload
    assert _uploads_in_progress(s3_endpoint, bucket) == 0
    storage.get_file("a/large.zip", tmp_path / "large-back.zip")
    assert (tmp_path / "large-back.zip").read_bytes() == large
    assert storage.exists("a/b.tif") and not storage.exists("a/missing")
    with pytest.raises(NotFound, match=f"File not found: gs://{bucket}/g/a/missing"):
        storage.get_file("a/missing", tmp_path / "missing")
    storage.delete("a/b.tif")
    assert _keys(s3_endpoint, bucket) == ["g/a/large.zip"]


def test_gs_through_the_xml_api_with_an_hmac_key(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    # The settings of deployments made before native credentials (compatibility S25): moto speaks the
    # same XML protocol with SigV4 signatures as storage.googleapis.com.
    config = s3_endpoint.config(
        gs_endpoint_url=s3_endpoint.url,
        gs_service_account_key="",
        gs_hmac_access_key_id="GOOGTESTTESTTESTTEST",
        gs_hmac_secret="gs-test-secret",
    )
    storage = open_storage(f"gs://{bucket}/h", config)
    assert storage.put_file(_file(tmp_path / "b.tif", b"hmac"), "a/b.tif") == f"gs://{bucket}/h/a/b.tif"
    assert _keys(s3_endpoint, bucket) == ["h/a/b.tif"]
    storage.get_file("a/b.tif", tmp_path / "back.tif")
    assert (tmp_path / "back.tif").read_bytes() == b"hmac"


def _refuse(request: Request) -> Response:
    """An object store that answers by bucket: the status and error code named in ANSWERS."""
    status, code = ANSWERS.get(request.path.split("/")[1], (503, "SlowDown"))
    body = (
        b""
        if request.method == "HEAD"
        else f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    )
    return Response(status, body, {"Content-Type": "application/xml"})


ANSWERS = {
    "public-bucket": (404, "NoSuchKey"),
    "no-such-bucket": (404, "NoSuchBucket"),
    "locked": (403, "AccessDenied"),
    "bad-key": (403, "InvalidAccessKeyId"),
    "expired": (400, "ExpiredToken"),
    "busy": (503, "SlowDown"),
    "broken": (500, "InternalError"),
    "throttled": (429, "TooManyRequests"),
    "odd": (400, "InvalidArgument"),
    "elsewhere": (301, "PermanentRedirect"),
}


@pytest.fixture(scope="module")
def refusing_endpoint() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(_refuse) as server:
        yield server


def _sent_to(server: LocalHTTPServer, bucket: str) -> list[Request]:
    return [r for r in server.requests if r.path.startswith(f"/{bucket}/")]


def test_gs_anonymous_sends_unsigned_requests_never_aws_keys(
    monkeypatch: pytest.MonkeyPatch, refusing_endpoint: LocalHTTPServer
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    config = ObjectStoreConfig(gs_endpoint_url=refusing_endpoint.url, gs_anonymous=True)
    assert not open_storage("gs://public-bucket/x", config).exists("k")
    sent = _sent_to(refusing_endpoint, "public-bucket")
    assert [r.path for r in sent] == ["/public-bucket/x/k"]
    assert "authorization" not in sent[0].headers


def test_gs_hmac_requests_carry_no_aws_credentials_of_the_environment(
    monkeypatch: pytest.MonkeyPatch, refusing_endpoint: LocalHTTPServer
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "aws-session-token")
    config = ObjectStoreConfig(
        gs_endpoint_url=refusing_endpoint.url, gs_hmac_access_key_id="GOOG1HMAC", gs_hmac_secret="s"
    )
    refusing_endpoint.requests.clear()
    assert not open_storage("gs://public-bucket/y", config).exists("k")
    (sent,) = _sent_to(refusing_endpoint, "public-bucket")
    assert "Credential=GOOG1HMAC/" in sent.headers["authorization"]
    assert "AKIAFROMTHEENVIRONMENT" not in str(sent.headers) and "aws-session-token" not in str(sent.headers)


def test_gs_service_account_requests_carry_a_jwt_signed_with_the_key(
    s3_endpoint: S3Endpoint, refusing_endpoint: LocalHTTPServer, tmp_path: pathlib.Path
) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(s3_endpoint.gcs_key)
    config = ObjectStoreConfig(gs_endpoint_url=refusing_endpoint.url, gs_service_account_file=str(key_file))
    refusing_endpoint.requests.clear()
    assert not open_storage("gs://public-bucket/z", config).exists("k")
    (sent,) = _sent_to(refusing_endpoint, "public-bucket")
    scheme, token = sent.headers["authorization"].split()
    assert scheme == "Bearer"
    header, claims, signature = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(claims))["iss"] == SERVICE_ACCOUNT_EMAIL
    assert json.loads(decode(header))["kid"] == "test-key-1"
    # Raises InvalidSignature unless the key of the file signed it.
    s3_endpoint.gcs_private_key.public_key().verify(
        decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_gcs_configuration_from_the_settings(s3_endpoint: S3Endpoint, tmp_path: pathlib.Path) -> None:
    """What stays untested against Google itself: the store configuration the settings give."""
    key_file = tmp_path / "sa.json"
    key_file.write_text(s3_endpoint.gcs_key)
    assert stores.gcs_options(ObjectStoreConfig()) == {}  # application default credentials
    assert stores.gcs_options(ObjectStoreConfig(gs_service_account_file=str(key_file))) == {
        "service_account": str(key_file)
    }
    assert stores.gcs_options(ObjectStoreConfig(gs_service_account_key=s3_endpoint.gcs_key)) == {
        "service_account_key": s3_endpoint.gcs_key
    }
    assert stores.gcs_options(ObjectStoreConfig(gs_anonymous=True, gs_endpoint_url="http://gcs:4443/")) == {
        "skip_signature": True,
        "base_url": "http://gcs:4443",
    }
    store = stores.store_for("gs", "bucket-a", ObjectStoreConfig(gs_service_account_file=str(key_file)))
    assert store.config == {"bucket": "bucket-a", "service_account": str(key_file)}
    assert store is stores.store_for(
        "gs", "bucket-a", ObjectStoreConfig(gs_service_account_file=str(key_file))
    )


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        ("public-bucket", NotFound),
        ("no-such-bucket", NotFound),
        ("locked", StorageAccessDenied),
        ("bad-key", StorageAccessDenied),
        ("expired", StorageAccessDenied),
        ("busy", Unavailable),
        ("broken", Unavailable),
        ("throttled", Unavailable),
        ("odd", FailedPrecondition),
        ("elsewhere", FailedPrecondition),
    ],
)
def test_refusals_of_a_real_endpoint_map_to_the_error_table(
    tmp_path: pathlib.Path, refusing_endpoint: LocalHTTPServer, bucket: str, expected: type
) -> None:
    source = _file(tmp_path / "f", b"x")
    secret = "do-not-print-me"
    config = ObjectStoreConfig(
        s3_endpoint_url=refusing_endpoint.url,
        s3_access_key_id="AKIAEXAMPLE",
        s3_secret_access_key=secret,
        s3_region="us-east-1",
        max_attempts=1,
    )
    storage = open_storage(f"s3://{bucket}/p", config)
    refusing_endpoint.requests.clear()
    for call in (lambda: storage.put_file(source, "k"), lambda: storage.get_file("k", tmp_path / "k")):
        with pytest.raises(expected) as raised:
            call()
        assert type(raised.value) is expected
        assert f"s3://{bucket}/p/k" in str(raised.value)
        assert secret not in str(raised.value) and "AKIAEXAMPLE" not in str(raised.value)
    assert not (tmp_path / "k").exists()
    # max_attempts=1: obstore did not retry (one PUT, one GET).
    assert len(_sent_to(refusing_endpoint, bucket)) == 2
    if expected is StorageAccessDenied:
        assert is_fatal(raised.value) and not is_temporary(raised.value)
        assert f"'{bucket}'" in str(raised.value) and ANSWERS[bucket][1] in str(raised.value)
    if expected is Unavailable:
        assert is_temporary(raised.value)
    if bucket == "no-such-bucket":
        assert "does not exist" in str(raised.value)


def test_transient_refusals_are_retried(refusing_endpoint: LocalHTTPServer, tmp_path: pathlib.Path) -> None:
    config = ObjectStoreConfig(
        s3_endpoint_url=refusing_endpoint.url,
        s3_access_key_id="AKIAEXAMPLE",
        s3_secret_access_key="s",
        max_attempts=3,
    )
    refusing_endpoint.requests.clear()
    with pytest.raises(Unavailable):
        open_storage("s3://busy/r", config).get_file("k", tmp_path / "k")
    assert len(_sent_to(refusing_endpoint, "busy")) == 3


def test_an_unreachable_store_is_unavailable(tmp_path: pathlib.Path) -> None:
    with socket.socket() as probe:  # a port bound and released: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ObjectStoreConfig(
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_access_key_id="A",
        s3_secret_access_key="s",
        max_attempts=1,
    )
    with pytest.raises(Unavailable, match="unreachable") as exc:
        open_storage("s3://bucket/x", config).get_file("k", tmp_path / "k")
    assert is_temporary(exc.value)


def test_static_profiles_of_the_shared_credentials_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n"
        "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = w\naws_session_token = t\n"
    )
    (tmp_path / "config").write_text("[profile work]\nregion = eu-west-3\n")
    files = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
    }
    assert stores.shared_file_profile({**files, "AWS_PROFILE": "work"}) == {
        "aws_access_key_id": "AKIAWORK",
        "aws_secret_access_key": "w",
        "aws_session_token": "t",
        "region": "eu-west-3",
    }
    assert stores.shared_file_profile(files)["aws_access_key_id"] == "AKIADEFAULT"
    # Keys in the environment win, as in the AWS chain: object_store reads them itself.
    assert stores.shared_file_profile({**files, "AWS_ACCESS_KEY_ID": "AKIAENV"}) == {}
    assert stores.shared_file_profile({"HOME": str(tmp_path)}) == {}


def test_the_shared_credentials_file_signs_s3_requests(
    monkeypatch: pytest.MonkeyPatch, refusing_endpoint: LocalHTTPServer, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "credentials").write_text("[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = w\n")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "work")
    refusing_endpoint.requests.clear()
    config = ObjectStoreConfig(s3_endpoint_url=refusing_endpoint.url, s3_region="us-east-1")
    assert not open_storage("s3://public-bucket/w", config).exists("k")
    (sent,) = _sent_to(refusing_endpoint, "public-bucket")
    assert "Credential=AKIAWORK/" in sent.headers["authorization"]


def test_settings_feed_the_object_store_config() -> None:
    environ = {
        "GEOCUBE_PROCESSOR_STORAGE_URI": "gs://bucket/prefix",
        "GEOCUBE_PROCESSOR_CATALOGUE_ADDRESS": "localhost:1",
        "GEOCUBE_PROCESSOR_S3_ENDPOINT_URL": "http://minio:9000",
        "GEOCUBE_PROCESSOR_S3_ADDRESSING_STYLE": "path",
        "GEOCUBE_PROCESSOR_GS_HMAC_ACCESS_KEY_ID": "GOOG1EXAMPLE",
        "GEOCUBE_PROCESSOR_GS_HMAC_SECRET": "hmac-secret",
        "GEOCUBE_PROCESSOR_STORAGE_MULTIPART_THRESHOLD": str(8 * MIB),
    }
    settings = from_env(WorkerSettings, "GEOCUBE_PROCESSOR_", environ)
    settings.check()
    config = settings.object_store()
    assert config == ObjectStoreConfig(
        s3_endpoint_url="http://minio:9000",
        s3_addressing_style="path",
        gs_hmac_access_key_id="GOOG1EXAMPLE",
        gs_hmac_secret="hmac-secret",
        storage_multipart_threshold=8 * MIB,
    )
    for text in (repr(settings), repr(config)):
        assert "hmac-secret" not in text and "GOOG1EXAMPLE" not in text


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"gs_hmac_access_key_id": "GOOG1"}, "WORKER_GS_HMAC_SECRET"),
        ({"gs_service_account_file": "/nonexistent/sa.json"}, "WORKER_GS_SERVICE_ACCOUNT_FILE"),
        ({"gs_service_account_key": '{"client_email": "a@b"}'}, "WORKER_GS_SERVICE_ACCOUNT_KEY"),
        ({"gs_service_account_key": "{}", "gs_anonymous": True}, "WORKER_GS_ANONYMOUS"),
        (
            {"gs_service_account_key": "{}", "gs_hmac_access_key_id": "G", "gs_hmac_secret": "s"},
            "WORKER_GS_HMAC_ACCESS_KEY_ID",
        ),
        ({"s3_secret_access_key": "s"}, "WORKER_S3_SECRET_ACCESS_KEY"),
        ({"s3_addressing_style": "sideways"}, "WORKER_S3_ADDRESSING_STYLE"),
        ({"s3_endpoint_url": "minio:9000"}, "WORKER_S3_ENDPOINT_URL"),
        ({"storage_multipart_threshold": 1024}, "WORKER_STORAGE_MULTIPART_THRESHOLD"),
    ],
)
def test_settings_check_names_the_bad_variable(values: dict[str, Any], variable: str) -> None:
    settings = WorkerSettings(catalogue_address="c:1", storage_uri="/data", **values)
    with pytest.raises(InvalidArgument) as exc:
        settings.check()
    assert exc.value.field == f"GEOCUBE_{variable}"


def test_missing_storage_uri_message_lists_object_stores() -> None:
    with pytest.raises(InvalidArgument) as exc:
        WorkerSettings(catalogue_address="c:1").check()
    assert exc.value.field == "GEOCUBE_WORKER_STORAGE_URI"
    assert "s3://" in exc.value.reason and "gs://" in exc.value.reason


@pytest.mark.parametrize("uri", ["relative/path", "ftp://host/x", "s3://", "file://remote-host/x"])
def test_an_unusable_storage_uri_names_the_variable_at_start(uri: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        WorkerSettings(catalogue_address="c:1", storage_uri=uri).check()
    assert exc.value.field == "GEOCUBE_WORKER_STORAGE_URI"


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_no_credentials_anywhere_is_a_fatal_access_denial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, scheme: str
) -> None:
    # The chains end at the metadata services, which conftest points at a closed loopback port.
    for name in list(os.environ):
        if name.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION", "AWS_PROFILE", "AWS_WEB", "GOOGLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no shared files, no gcloud ADC file
    config = ObjectStoreConfig(
        s3_endpoint_url="http://127.0.0.1:9", gs_endpoint_url="http://127.0.0.1:9", max_attempts=1
    )
    with pytest.raises(StorageAccessDenied, match="no usable credentials for bucket 'nobody-s'") as exc:
        open_storage(f"{scheme}://nobody-s/x", config).exists("k")
    assert is_fatal(exc.value)
