"""s3:// and gs:// storage against a real S3 endpoint (moto's server on loopback): round trips,
multipart uploads that stay invisible until complete, NotFound, keys, zip layers, URI forms, errors."""

from __future__ import annotations

import gc
import os
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from support.httpserver import LocalHTTPServer, Request, Response
from support.s3server import S3Endpoint
from test_storage_layers import S2_SCENE, make_safe, make_tile, tree

from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.runtime.settings import from_env
from services.storage import ObjectStoreConfig, S3Storage, layers, open_storage
from services.storage.backend import StorageAccessDenied
from services.storage.s3 import translate
from services.worker.outcome import is_fatal, is_temporary
from services.worker.settings import WorkerSettings

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
    assert isinstance(gs, S3Storage)
    assert gs.uri("a") == "gs://my-bucket.example/root/a"
    assert repr(gs) == "S3Storage('gs://my-bucket.example/root')"


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
    assert isinstance(storage, S3Storage)
    content = os.urandom(6 * MIB + 123)
    source = _file(tmp_path / "product.zip", content)
    observed: list[Any] = []
    client = s3_endpoint.client()

    first_call = threading.Lock()

    def watch(sent: int) -> None:
        # While parts travel (in parallel threads): no object yet, one multipart upload in progress.
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


# s3transfer leaves the source file of an abandoned part to the garbage collector (its ResourceWarning
# is raised as "unraisable"); the test collects it here so that it cannot land on a later test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_abandoned_multipart_upload_is_aborted_and_leaves_nothing(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    # One attempt: botocore would otherwise retry the parts whose body callback raised, with backoff.
    config = s3_endpoint.config(storage_multipart_threshold=5 * MIB, max_attempts=1)
    storage = open_storage(f"s3://{bucket}", config)
    source = _file(tmp_path / "product.zip", os.urandom(6 * MIB))

    def give_up(sent: int) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        storage.put_file(source, "p/product.zip", progress=give_up)
    gc.collect()
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


def test_gs_goes_through_the_s3_protocol_with_hmac_keys(
    s3_endpoint: S3Endpoint, bucket: str, tmp_path: pathlib.Path
) -> None:
    # moto stands in for storage.googleapis.com: same XML protocol, same signatures (see docs/storage.md).
    storage = open_storage(f"gs://{bucket}/g", s3_endpoint.config())
    source = _file(tmp_path / "b.tif", b"gs bytes")
    assert storage.put_file(source, "a/b.tif") == f"gs://{bucket}/g/a/b.tif"
    assert _keys(s3_endpoint, bucket) == ["g/a/b.tif"]
    storage.get_file("a/b.tif", tmp_path / "back.tif")
    assert (tmp_path / "back.tif").read_bytes() == b"gs bytes"
    with pytest.raises(NotFound, match=f"File not found: gs://{bucket}/g/a/missing"):
        storage.get_file("a/missing", tmp_path / "missing")


def _refuse(request: Request) -> Response:
    """An S3 endpoint that answers by bucket: nothing in public-bucket, access denied, overloaded."""
    status, code = {"public-bucket": (404, "NoSuchKey"), "locked": (403, "AccessDenied")}.get(
        request.path.split("/")[1], (503, "SlowDown")
    )
    body = (
        b""
        if request.method == "HEAD"
        else f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    )
    return Response(status, body, {"Content-Type": "application/xml"})


@pytest.fixture(scope="module")
def refusing_endpoint() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(_refuse) as server:
        yield server


def test_gs_without_hmac_keys_sends_unsigned_requests_never_aws_keys(
    monkeypatch: pytest.MonkeyPatch, refusing_endpoint: LocalHTTPServer
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    storage = open_storage("gs://public-bucket/x", ObjectStoreConfig(gs_endpoint_url=refusing_endpoint.url))
    assert not storage.exists("k")
    sent = [r for r in refusing_endpoint.requests if r.path.startswith("/public-bucket/")]
    assert [r.path for r in sent] == ["/public-bucket/x/k"]
    assert "authorization" not in sent[0].headers


def test_refusals_of_a_real_endpoint_map_to_the_error_table(
    tmp_path: pathlib.Path, refusing_endpoint: LocalHTTPServer
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
    with pytest.raises(StorageAccessDenied) as denied:
        open_storage("s3://locked/p", config).put_file(source, "k")
    assert "'locked'" in str(denied.value) and "AccessDenied" in str(denied.value)
    assert secret not in str(denied.value) and "AKIAEXAMPLE" not in str(denied.value)
    assert is_fatal(denied.value) and not is_temporary(denied.value)
    with pytest.raises(Unavailable) as busy:
        open_storage("s3://busy/p", config).get_file("k", tmp_path / "k")
    assert is_temporary(busy.value)
    # max_attempts=1: botocore did not retry.
    assert len([r for r in refusing_endpoint.requests if r.path.startswith("/busy/")]) == 1


def _client_error(status: int, code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error(404, "NoSuchKey"), NotFound),
        (_client_error(404, "NoSuchBucket"), NotFound),
        (_client_error(403, "InvalidAccessKeyId"), StorageAccessDenied),
        (_client_error(400, "ExpiredToken"), StorageAccessDenied),
        (_client_error(503, "SlowDown"), Unavailable),
        (_client_error(500, "InternalError"), Unavailable),
        (_client_error(429, "TooManyRequests"), Unavailable),
        (_client_error(400, "InvalidArgument"), FailedPrecondition),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), Unavailable),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), Unavailable),
        (botocore.exceptions.NoCredentialsError(), StorageAccessDenied),
    ],
)
def test_translation_table(error: Exception, expected: type) -> None:
    mapped = translate(error, bucket="b", uri="s3://b/k")
    assert type(mapped) is expected
    assert "s3://b/k" in str(mapped)


def test_translation_leaves_other_errors_alone() -> None:
    assert translate(FileNotFoundError("nope"), bucket="b", uri="s3://b/k") is None
    assert translate(NotFound("ours"), bucket="b", uri="s3://b/k") is None


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
