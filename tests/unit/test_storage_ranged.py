"""open_ranged: lazy, seekable reads over HTTP (a real server on loopback honouring Range, or not), over
s3:// and gs:// (moto's server, behind a counting proxy) and local files; zipfile reads only what it needs."""

from __future__ import annotations

import io
import os
import pathlib
import socket
import urllib.parse
import zipfile
from collections.abc import Iterator

import pytest
import requests
from support.httpserver import LocalHTTPServer, Response, serve_bytes
from support.s3server import S3Endpoint, forwarding_proxy

from libs.runtime.errors import InvalidArgument, NotFound, Unavailable
from libs.storage.backend import StorageAccessDenied
from libs.storage.ranged import open_ranged

MEMBER_SIZE = 100 * 1024
MEMBERS = 40


@pytest.fixture(scope="module")
def archive() -> bytes:
    """A 4 MB zip of incompressible members (stored), like a product with many images."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for number in range(MEMBERS):
            zf.writestr(f"SAFE/measurement/m{number:02d}.tiff", os.urandom(MEMBER_SIZE))
        zf.writestr("SAFE/annotation/s1a-iw1.xml", b"<product>" + b"<burst/>" * 2000 + b"</product>")
    return buffer.getvalue()


def _member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


@pytest.fixture(scope="module")
def module_server() -> Iterator[LocalHTTPServer]:
    # One server for the module: each stop waits for serve_forever's 0.5 s poll.
    with LocalHTTPServer(lambda request: Response(500)) as server:
        yield server


@pytest.fixture
def http(module_server: LocalHTTPServer) -> LocalHTTPServer:
    """The module's loopback server with its counters reset; a test sets `http.handler`."""
    module_server.requests.clear()
    module_server.bytes_sent = 0
    return module_server


@pytest.fixture
def http_archive(http: LocalHTTPServer, archive: bytes) -> LocalHTTPServer:
    http.handler = lambda request: serve_bytes(request, archive)
    return http


def test_zipfile_over_http_reads_only_the_directory_and_the_member(
    http_archive: LocalHTTPServer, archive: bytes
) -> None:
    with open_ranged(f"{http_archive.url}/S1A.zip") as remote, zipfile.ZipFile(remote) as zf:
        assert len(zf.namelist()) == MEMBERS + 1
        xml = zf.read("SAFE/annotation/s1a-iw1.xml")
        tiff = zf.read("SAFE/measurement/m17.tiff")
    assert xml == _member(archive, "SAFE/annotation/s1a-iw1.xml")
    assert tiff == _member(archive, "SAFE/measurement/m17.tiff")
    # The directory, two members and some read-ahead: a small fraction of the 4 MB archive.
    assert http_archive.bytes_sent < len(archive) / 10
    assert all("range" in request.headers for request in http_archive.requests)


def test_a_server_ignoring_range_still_gives_the_right_bytes(http: LocalHTTPServer, archive: bytes) -> None:
    http.handler = lambda request: Response(200, archive)  # no Range support: always the full body
    with open_ranged(f"{http.url}/S1A.zip") as remote, zipfile.ZipFile(remote) as zf:
        assert zf.read("SAFE/measurement/m03.tiff") == _member(archive, "SAFE/measurement/m03.tiff")
        assert zf.read("SAFE/measurement/m39.tiff") == _member(archive, "SAFE/measurement/m39.tiff")
    # Streamed once into a temporary file, then every read is local.
    assert len(http.requests) == 1
    assert http.bytes_sent == len(archive)


def test_random_access_matches_the_object(http_archive: LocalHTTPServer, archive: bytes) -> None:
    with open_ranged(f"{http_archive.url}/S1A.zip", read_ahead=1000) as remote:
        assert remote.seekable() and remote.readable()
        assert remote.seek(0, os.SEEK_END) == len(archive)
        assert remote.read(10) == b""  # at the end
        for offset, length in [(0, 4), (123_456, 70_000), (len(archive) - 5, 100), (10, 1), (9, 3)]:
            remote.seek(offset)
            assert remote.read(length) == archive[offset : offset + length]
            assert remote.tell() == min(offset + length, len(archive))
        remote.seek(-7, os.SEEK_END)
        assert remote.read() == archive[-7:]
        remote.seek(100)
        remote.seek(50, os.SEEK_CUR)
        assert remote.read(5) == archive[150:155]
        with pytest.raises(OSError):  # as a real file: zipfile treats it as "not a zip"
            remote.seek(-1)
    with pytest.raises(ValueError):
        remote.read(1)


def test_sequential_reads_grow_the_requests(http_archive: LocalHTTPServer, archive: bytes) -> None:
    with open_ranged(f"{http_archive.url}/S1A.zip", read_ahead=4096) as remote:
        chunks = iter(lambda: remote.read(4096), b"")
        assert b"".join(chunks) == archive
    # Doubling read-ahead: a dozen requests for 4 MB read 4 KiB at a time, not a thousand.
    assert len(http_archive.requests) < 20
    assert http_archive.bytes_sent == len(archive)


def test_empty_object(http: LocalHTTPServer) -> None:
    http.handler = lambda request: serve_bytes(request, b"")
    with open_ranged(f"{http.url}/empty") as remote:
        assert remote.read() == b""
        assert remote.seek(0, os.SEEK_END) == 0


def test_http_errors_map_to_the_error_table(http: LocalHTTPServer) -> None:
    answers = {"/missing": 404, "/secret": 403, "/busy": 503}
    http.handler = lambda request: Response(answers[request.path])
    with (
        open_ranged(f"{http.url}/missing?X-Amz-Signature=s3cr3t") as remote,
        pytest.raises(NotFound) as missing,
    ):
        remote.read(1)
    assert str(missing.value) == f"File not found: {http.url}/missing"  # no query: signatures stay out
    with open_ranged(f"{http.url}/secret") as remote, pytest.raises(StorageAccessDenied):
        remote.read(1)
    with open_ranged(f"{http.url}/busy") as remote, pytest.raises(Unavailable):
        remote.seek(0, os.SEEK_END)


def test_unreachable_server_is_unavailable() -> None:
    # A port bound and released: nothing listens there, the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open_ranged(f"http://127.0.0.1:{port}/x", timeout=5) as remote, pytest.raises(Unavailable):
        remote.read(1)


def test_credentials_given_by_the_caller_are_sent(http: LocalHTTPServer) -> None:
    http.handler = lambda request: serve_bytes(request, b"payload")
    with open_ranged(f"{http.url}/a", bearer_token="tok") as remote:
        assert remote.read() == b"payload"
    with open_ranged(f"{http.url}/b", basic_auth=("user", "pw")) as remote:
        assert remote.read(3) == b"pay"
    assert http.requests[0].headers["authorization"] == "Bearer tok"
    assert http.requests[-1].headers["authorization"].startswith("Basic ")


def test_caller_session_is_used_and_left_open(http: LocalHTTPServer) -> None:
    http.handler = lambda request: serve_bytes(request, b"0123456789")
    with requests.Session() as session:
        with open_ranged(f"{http.url}/a", session=session) as remote:
            remote.seek(4)
            assert remote.read(3) == b"456"
        # Still usable: closing the file closed only what open_ranged created.
        assert session.get(f"{http.url}/a", timeout=5).content == b"0123456789"


def test_local_paths_and_file_uris(tmp_path: pathlib.Path, archive: bytes) -> None:
    path = tmp_path / "my product.zip"
    path.write_bytes(archive)
    for uri in (str(path), f"file://{urllib.parse.quote(str(path))}"):
        with open_ranged(uri) as local, zipfile.ZipFile(local) as zf:
            assert zf.read("SAFE/measurement/m01.tiff") == _member(archive, "SAFE/measurement/m01.tiff")
    with pytest.raises(NotFound, match="File not found: "):
        open_ranged(str(tmp_path / "missing.zip"))


@pytest.mark.parametrize("uri", ["ftp://host/x", "s3://bucket", "gs://bucket/", "file://otherhost/x"])
def test_unusable_uris(uri: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        open_ranged(uri)
    assert exc.value.field == "uri"


@pytest.fixture
def counting_proxy(s3_endpoint: S3Endpoint) -> Iterator[LocalHTTPServer]:
    """Forwards every request to moto, so that the test can count the bytes an S3 client receives."""
    with forwarding_proxy(s3_endpoint.url) as proxy:
        yield proxy


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_zipfile_over_object_stores_reads_only_the_directory_and_the_member(
    s3_endpoint: S3Endpoint, counting_proxy: LocalHTTPServer, archive: bytes, scheme: str
) -> None:
    bucket = s3_endpoint.new_bucket()
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key="products/S1A.zip", Body=archive)
    client.close()
    config = s3_endpoint.config(s3_endpoint_url=counting_proxy.url, gs_endpoint_url=counting_proxy.url)
    with (
        open_ranged(f"{scheme}://{bucket}/products/S1A.zip", config) as remote,
        zipfile.ZipFile(remote) as zf,
    ):
        assert zf.read("SAFE/measurement/m22.tiff") == _member(archive, "SAFE/measurement/m22.tiff")
    assert 0 < counting_proxy.bytes_sent < len(archive) / 10
    assert all("range" in request.headers for request in counting_proxy.requests)


def test_s3_and_gs_objects(s3_endpoint: S3Endpoint) -> None:
    bucket = s3_endpoint.new_bucket()
    client = s3_endpoint.client()
    client.put_object(Bucket=bucket, Key="a/b.bin", Body=b"0123456789")
    client.put_object(Bucket=bucket, Key="a/empty", Body=b"")
    client.close()
    config = s3_endpoint.config()
    for scheme in ("s3", "gs"):
        with open_ranged(f"{scheme}://{bucket}/a/b.bin", config, read_ahead=4) as remote:
            assert remote.name == f"{scheme}://{bucket}/a/b.bin"
            remote.seek(-3, os.SEEK_END)
            assert remote.read() == b"789"
            remote.seek(2)
            assert remote.read(5) == b"23456"
        with open_ranged(f"{scheme}://{bucket}/a/empty", config) as remote:
            assert remote.read() == b""
        with open_ranged(f"{scheme}://{bucket}/a/missing", config) as remote, pytest.raises(NotFound) as exc:
            remote.read(1)
        assert str(exc.value) == f"File not found: {scheme}://{bucket}/a/missing"
