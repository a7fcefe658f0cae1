"""HTTP(S) URL templates and the streaming transfer, against a real loopback HTTP server.

Each error case of docs/providers.md: 404 (next template / NotFound), 401, 429 + Retry-After, 5xx,
timeouts, truncated bodies (resumed with Range + If-Range), servers ignoring Range, wrong checksums; and
what must hold whatever happens: no partial or corrupt file left, no secret in an error or a log line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import pathlib
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator

import pytest
from support.httpserver import Handler, LocalHTTPServer, Request, Response, serve_bytes

from libs.http.errors import Unauthorized
from libs.http.origins import keeps_credentials, origin
from services.downloader.providers import http, transfer
from services.downloader.providers.link import LinkProvider
from services.downloader.providers.product import ProductRequest, Progress
from libs.runtime.errors import FailedPrecondition, NotFound, PermissionDenied, Unavailable
from libs.runtime.urls import public_url
from libs.worker.outcome import is_temporary

S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
FAST = transfer.Policy(
    resume_attempts=3, retry_pause=0.001, retry_after_max=5.0, timeout=2.0, chunk_size=4096
)
TOKEN = "s3cr3t-bearer-token"
PASSWORD = "pa55-w0rd-secret"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


PRODUCT = _zip({f"{S2_ID}.SAFE/MTD_MSIL1C.xml": b"<xml/>", f"{S2_ID}.SAFE/band.jp2": bytes(range(256)) * 200})
BODY = bytes(range(256)) * 400  # 100 KiB of known bytes for transfer tests


@dataclasses.dataclass
class Served:
    url: str
    # The requests of this test only (the servers are shared by the module), recorded by the handler
    # before it answers, as the server records its own: complete once the client has its answer.
    requests: list[Request]


Serve = Callable[..., contextlib.AbstractContextManager[Served]]


@pytest.fixture(scope="module")
def _shared_servers() -> Iterator[list[LocalHTTPServer]]:
    # Two servers per module: stopping one costs up to half a second (its serve_forever poll interval).
    with (
        LocalHTTPServer(lambda request: Response(404)) as first,
        LocalHTTPServer(lambda request: Response(404)) as second,
    ):
        yield [first, second]


@pytest.fixture
def web(_shared_servers: list[LocalHTTPServer]) -> Serve:
    """`with web(handler) as server:` — a shared server answering with `handler`; `index=1`: the other."""

    def serve(handler: Handler, index: int = 0) -> contextlib.AbstractContextManager[Served]:
        seen: list[Request] = []

        def recording(request: Request) -> Response:
            seen.append(request)
            return handler(request)

        _shared_servers[index].handler = recording
        return contextlib.nullcontext(Served(_shared_servers[index].url, seen))

    return serve


def _leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".partial") or p.name.endswith(".zip"))


def _download(
    server: Served, dest: pathlib.Path, product: ProductRequest | None = None, **kw: object
) -> pathlib.Path:
    product = product or ProductRequest(S2_ID)
    return transfer.download(f"{server.url}/p.bin", dest, product, provider="Test", policy=FAST, **kw)  # type: ignore[arg-type]


# --- templates ------------------------------------------------------------------------------------


def test_templates_fill_the_product_id_fields_and_refuse_unknown_placeholders() -> None:
    product = ProductRequest(S2_ID, aoi="My Area", uuid="u-1")
    url = http.render(
        "https://h/{MISSION_ID}/{YEAR}/{MONTH}/{DAY}/{TILE}/{SCENE}.zip?a={AREA}&u={UUID}", product
    )
    assert url == f"https://h/S2A/2022/01/04/T32UNF/{S2_ID}.zip?a=My%20Area&u=u-1"
    with pytest.raises(NotFound, match=r"\{NOPE\}"):
        http.render("https://h/{NOPE}/{SCENE}.zip", product)
    assert http.local_name(product, "https://h/x/$value") == f"{S2_ID}.zip"
    assert http.local_name(product, "https://h/x/file.TIF") == f"{S2_ID}.tif"


def test_a_template_product_is_downloaded_unarchived_and_nothing_else_is_left(
    web: Serve, tmp_path: pathlib.Path
) -> None:
    def handler(request: Request) -> Response:
        if request.path == f"/2022/01/04/{S2_ID}.zip":
            return serve_bytes(request, PRODUCT)
        return Response(404)

    progress: list[Progress] = []
    with web(handler) as server:
        provider = http.HttpProvider(
            [f"{server.url}/missing/{{SCENE}}.zip", f"{server.url}/{{YEAR}}/{{MONTH}}/{{DAY}}/{{SCENE}}.zip"],
            http.StaticAuth(bearer=TOKEN),
            FAST,
        )
        provider.fetch(ProductRequest(S2_ID, on_progress=progress.append), tmp_path)
    assert (tmp_path / f"{S2_ID}.SAFE" / "band.jp2").read_bytes() == bytes(range(256)) * 200
    assert _leftovers(tmp_path) == []
    # A 404 moved on to the next template; both got the configured token.
    assert [r.path for r in server.requests] == [f"/missing/{S2_ID}.zip", f"/2022/01/04/{S2_ID}.zip"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    assert progress[-1] == Progress("HttpProvider", len(PRODUCT), len(PRODUCT))
    assert "HttpProvider" in progress[-1].text() and "100%" in progress[-1].text()


def test_every_template_missing_is_not_found_naming_each_url(web: Serve, tmp_path: pathlib.Path) -> None:
    with web(lambda request: Response(404)) as server:
        provider = http.HttpProvider(
            [f"{server.url}/a/{{SCENE}}.zip", f"{server.url}/b/{{SCENE}}.zip"], http.StaticAuth(), FAST
        )
        with pytest.raises(NotFound) as caught:
            provider.fetch(ProductRequest(S2_ID), tmp_path)
    text = str(caught.value)
    assert f"/a/{S2_ID}.zip" in text and f"/b/{S2_ID}.zip" in text and "product not found" in text
    assert not is_temporary(caught.value)


def test_basic_auth_is_sent(web: Serve, tmp_path: pathlib.Path) -> None:
    with web(lambda request: serve_bytes(request, PRODUCT)) as server:
        provider = http.HttpProvider(
            [f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(username="me", password=PASSWORD), FAST
        )
        provider.fetch(ProductRequest(S2_ID), tmp_path)
    assert server.requests[0].headers["authorization"].startswith("Basic ")
    assert repr(provider.auth) == "StaticAuth(***)"


# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_transient(web: Serve, tmp_path: pathlib.Path, status: int) -> None:
    with (
        web(lambda request: Response(status, b"oops")) as server,
        pytest.raises(Unavailable, match=f"HTTP {status}") as caught,
    ):
        _download(server, tmp_path / "p.bin")
    assert is_temporary(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_401_with_static_credentials_fails_clearly_and_is_not_transient(
    web: Serve, tmp_path: pathlib.Path
) -> None:
    with (
        web(lambda request: Response(401)) as server,
        pytest.raises(Unauthorized, match=r"401 Unauthorized.*credentials refused") as caught,
    ):
        _download(server, tmp_path / "p.bin", auth=http.StaticAuth(bearer=TOKEN))
    assert not is_temporary(caught.value) and isinstance(caught.value, PermissionDenied)
    assert len(server.requests) == 1  # nothing to refresh: no second try


def test_other_client_errors_are_failed_preconditions(web: Serve, tmp_path: pathlib.Path) -> None:
    with (
        web(lambda request: Response(400)) as server,
        pytest.raises(FailedPrecondition, match="HTTP 400"),
    ):
        _download(server, tmp_path / "p.bin")


def test_429_waits_for_retry_after_then_retries(web: Serve, tmp_path: pathlib.Path) -> None:
    answers = iter([Response(429, headers={"Retry-After": "1"})])

    def handler(request: Request) -> Response:
        return next(answers, None) or serve_bytes(request, BODY)

    with web(handler) as server:
        started = time.monotonic()
        _download(server, tmp_path / "p.bin")
        waited = time.monotonic() - started
    assert (tmp_path / "p.bin").read_bytes() == BODY
    assert len(server.requests) == 2 and waited >= 0.95


def test_429_beyond_the_bound_or_repeated_is_transient(web: Serve, tmp_path: pathlib.Path) -> None:
    with (
        web(lambda request: Response(429, headers={"Retry-After": "3600"})) as server,
        pytest.raises(Unavailable, match="HTTP 429") as caught,
    ):
        _download(server, tmp_path / "p.bin")
    assert is_temporary(caught.value) and len(server.requests) == 1  # an hour is not waited for
    with (
        web(lambda request: Response(429, headers={"Retry-After": "0"})) as server,
        pytest.raises(Unavailable, match="HTTP 429"),
    ):
        _download(server, tmp_path / "p.bin")
    assert len(server.requests) == 1 + FAST.resume_attempts
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_task_stops_waiting_at_once(web: Serve, tmp_path: pathlib.Path) -> None:
    product = ProductRequest(S2_ID)
    with web(lambda request: Response(429, headers={"Retry-After": "4"})) as server:
        timer = threading.Timer(0.1, product.cancel.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(transfer.Cancelled):
            _download(server, tmp_path / "p.bin", product)
        assert time.monotonic() - started < 2.0
        timer.join()
    assert list(tmp_path.iterdir()) == []


def test_no_answer_in_time_is_transient(web: Serve, tmp_path: pathlib.Path) -> None:
    release = threading.Event()

    def handler(request: Request) -> Response:
        release.wait(5)
        return Response(200, b"late")

    policy = transfer.Policy(timeout=0.2, retry_pause=0.001)
    with web(handler) as server:
        try:
            with pytest.raises(Unavailable, match="timeout") as caught:
                transfer.download(
                    f"{server.url}/p", tmp_path / "p", ProductRequest(S2_ID), provider="T", policy=policy
                )
        finally:
            release.set()
    assert is_temporary(caught.value)


def test_no_server_at_all_is_transient(tmp_path: pathlib.Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(Unavailable, match="no response") as caught:
        transfer.download(f"{url}/p", tmp_path / "p", ProductRequest(S2_ID), provider="T", policy=FAST)
    assert is_temporary(caught.value)


# --- broken bodies and resume ---------------------------------------------------------------------


def test_a_broken_body_is_resumed_with_range_and_if_range(web: Serve, tmp_path: pathlib.Path) -> None:
    calls = iter([30_000, 70_000])

    def handler(request: Request) -> Response:
        response = serve_bytes(request, BODY, ETag='"v1"')
        response.truncate_after = next(calls, None)
        return response

    with web(handler) as server:
        _download(
            server,
            tmp_path / "p.bin",
            ProductRequest(S2_ID, checksums={"MD5": hashlib.md5(BODY).hexdigest()}),
        )
    assert (tmp_path / "p.bin").read_bytes() == BODY
    ranges = [(r.headers.get("range"), r.headers.get("if-range")) for r in server.requests]
    assert ranges == [(None, None), ("bytes=30000-", '"v1"'), ("bytes=100000-", '"v1"')]
    assert _leftovers(tmp_path) == []


def test_a_body_stalling_past_the_timeout_is_resumed(web: Serve, tmp_path: pathlib.Path) -> None:
    release = threading.Event()
    first = threading.Event()

    def stalled() -> Iterator[bytes]:
        yield BODY[:10_000]
        release.wait(5)

    def handler(request: Request) -> Response:
        if not first.is_set():
            first.set()
            return Response(
                200,
                stalled(),
                {"Content-Length": str(len(BODY)), "Last-Modified": "Tue, 04 Jan 2022 10:00:00 GMT"},
            )
        return serve_bytes(request, BODY)

    policy = transfer.Policy(timeout=0.3, retry_pause=0.001)
    with web(handler) as server:
        try:
            transfer.download(
                f"{server.url}/p", tmp_path / "p", ProductRequest(S2_ID), provider="T", policy=policy
            )
        finally:
            release.set()
    assert (tmp_path / "p").read_bytes() == BODY
    # Only the resume carries a Range (the stalled first request was recorded before its answer began).
    (resumed,) = [r for r in server.requests if "range" in r.headers]
    assert resumed.headers["range"] == "bytes=10000-"
    assert resumed.headers["if-range"] == "Tue, 04 Jan 2022 10:00:00 GMT"


def test_a_server_ignoring_range_restarts_from_zero(web: Serve, tmp_path: pathlib.Path) -> None:
    calls = iter([40_000])

    def handler(request: Request) -> Response:
        return Response(200, BODY, truncate_after=next(calls, None))

    with web(handler) as server:
        _download(
            server,
            tmp_path / "p.bin",
            ProductRequest(S2_ID, checksums={"SHA256": hashlib.sha256(BODY).hexdigest()}),
        )
    assert (tmp_path / "p.bin").read_bytes() == BODY
    assert server.requests[1].headers["range"] == "bytes=40000-"


def test_a_body_broken_more_than_allowed_is_transient_and_leaves_nothing(
    web: Serve, tmp_path: pathlib.Path
) -> None:
    def handler(request: Request) -> Response:
        response = serve_bytes(request, BODY)
        response.truncate_after = 1000
        return response

    with web(handler) as server, pytest.raises(Unavailable, match="broken after") as caught:
        _download(server, tmp_path / "p.bin")
    assert is_temporary(caught.value)
    assert len(server.requests) == 1 + FAST.resume_attempts
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_checksum_is_transient_and_leaves_nothing(web: Serve, tmp_path: pathlib.Path) -> None:
    workdir = tmp_path / "work"
    with web(lambda request: serve_bytes(request, PRODUCT)) as server:
        provider = http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST)
        with pytest.raises(Unavailable, match="MD5 checksum mismatch") as caught:
            provider.fetch(ProductRequest(S2_ID, checksums={"MD5": "0" * 32}), workdir)
    assert is_temporary(caught.value)
    assert list(workdir.iterdir()) == []


def test_a_size_other_than_the_catalogue_s_is_transient(web: Serve, tmp_path: pathlib.Path) -> None:
    with (
        web(lambda request: serve_bytes(request, BODY)) as server,
        pytest.raises(Unavailable, match="catalogue"),
    ):
        _download(server, tmp_path / "p.bin", ProductRequest(S2_ID, size=len(BODY) + 1))
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_zip_is_transient_and_removed(web: Serve, tmp_path: pathlib.Path) -> None:
    with web(lambda request: serve_bytes(request, b"PK\x03\x04 not a zip")) as server:
        provider = http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST)
        with pytest.raises(Unavailable, match="unarchive"):
            provider.fetch(ProductRequest(S2_ID), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("archive", "error"),
    [
        (_zip({"../evil.txt": b"x"}), "unsafe path in zip: '../evil.txt'"),
        (_zip({"/etc/evil": b"x"}), "unsafe path in zip"),
        (_zip({}), "empty zip"),
    ],
)
def test_an_unsafe_or_empty_zip_is_a_permanent_failure(
    web: Serve, tmp_path: pathlib.Path, archive: bytes, error: str
) -> None:
    """Served as it is by the server: another attempt would get the same zip, so not transient."""
    workdir = tmp_path / "work"
    with web(lambda request: serve_bytes(request, archive)) as server:
        provider = http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST)
        with pytest.raises(FailedPrecondition, match=error) as caught:
            provider.fetch(ProductRequest(S2_ID), workdir)
    assert not isinstance(caught.value, Unavailable) and not is_temporary(caught.value)
    assert list(workdir.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_a_cancelled_task_stops_unarchiving(web: Serve, tmp_path: pathlib.Path) -> None:
    product = ProductRequest(S2_ID)

    def handler(request: Request) -> Response:
        return serve_bytes(request, PRODUCT)

    def cancel_when_complete(progress: Progress) -> None:
        # The whole body is on disk: cancelling now stops the unarchiving that follows.
        if progress.total and progress.done == progress.total:
            product.cancel.set()

    product.on_progress = cancel_when_complete
    with web(handler) as server:
        provider = http.HttpProvider([f"{server.url}/{{SCENE}}.zip"], http.StaticAuth(), FAST)
        with pytest.raises(transfer.Cancelled):
            provider.fetch(product, tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- credentials ----------------------------------------------------------------------------------


def test_credentials_stay_on_their_site_across_redirects(web: Serve, tmp_path: pathlib.Path) -> None:
    with web(lambda request: serve_bytes(request, BODY), index=1) as other:
        foreign = other.url.replace("127.0.0.1", "localhost")

        def handler(request: Request) -> Response:
            if request.path == "/here":
                return Response(302, headers={"Location": "/p.bin"})
            return Response(307, headers={"Location": f"{foreign}/p.bin"})

        with web(handler) as server:
            auth = http.StaticAuth(bearer=TOKEN)
            transfer.download(
                f"{server.url}/here",
                tmp_path / "a",
                ProductRequest(S2_ID),
                provider="T",
                auth=auth,
                policy=FAST,
            )
    assert [r.path for r in server.requests] == ["/here", "/p.bin"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    assert other.requests[0].path == "/p.bin" and "authorization" not in other.requests[0].headers
    assert (tmp_path / "a").read_bytes() == BODY


def test_credentials_never_go_to_another_port_of_the_same_host(web: Serve, tmp_path: pathlib.Path) -> None:
    """Both shared servers listen on 127.0.0.1: a redirect to the other one is another origin."""
    with (
        web(lambda request: serve_bytes(request, BODY), index=1) as other,
        web(lambda request: Response(302, headers={"Location": f"{other.url}/p.bin"})) as server,
    ):
        _download(server, tmp_path / "a", auth=http.StaticAuth(bearer=TOKEN))
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert [r.path for r in other.requests] == ["/p.bin"] and "authorization" not in other.requests[0].headers
    assert (tmp_path / "a").read_bytes() == BODY


def test_credentials_follow_a_redirect_to_a_trusted_origin_only(web: Serve, tmp_path: pathlib.Path) -> None:
    """An HTTP template's redirect to another template's origin keeps the credentials."""
    with (
        web(lambda request: serve_bytes(request, PRODUCT), index=1) as other,
        web(lambda request: Response(307, headers={"Location": f"{other.url}/real.zip"})) as server,
    ):
        provider = http.HttpProvider(
            [f"{server.url}/{{SCENE}}.zip", f"{other.url}/never/{{SCENE}}.zip"],
            http.StaticAuth(bearer=TOKEN),
            FAST,
        )
        provider.fetch(ProductRequest(S2_ID), tmp_path)
    assert other.requests[0].path == "/real.zip"
    assert other.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert (tmp_path / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").is_file()


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        ("https://h.example/a", "https://h.example:443/b?x=1", True),
        ("http://h.example/a", "https://h.example/b", True),  # the upgrade on the default ports
        ("https://h.example/a", "http://h.example/b", False),  # never in cleartext
        ("https://h.example/a", "https://h.example:8443/b", False),
        ("http://h.example:8080/a", "https://h.example/b", False),
        ("https://a.s3.amazonaws.com/k", "https://b.s3.amazonaws.com/k", False),
        ("https://x.co.uk/p", "https://y.co.uk/p", False),
        ("https://catalogue.dataspace.copernicus.eu/p", "https://zipper.dataspace.copernicus.eu/p", False),
        ("https://h.example/a", "ftp://h.example/a", False),
    ],
)
def test_which_redirects_keep_credentials(before: str, after: str, kept: bool) -> None:
    assert keeps_credentials(before, after) is kept
    trusted = {"https://zipper.dataspace.copernicus.eu:443", "http://plain.example:80"}
    assert keeps_credentials(
        "https://catalogue.dataspace.copernicus.eu/p", "https://zipper.dataspace.copernicus.eu/q", trusted
    )
    # Trusted or not, https never hands over to http.
    assert not keeps_credentials("https://h.example/", "http://plain.example/", trusted)


def test_link_credentials_only_for_configured_hosts_and_secrets_never_shown(
    web: Serve, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    failures: list[BaseException] = []
    with web(lambda request: Response(401 if "authorization" in request.headers else 500)) as server:
        trusted = LinkProvider(FAST, http.StaticAuth(bearer=TOKEN), {origin(server.url)})
        untrusted = LinkProvider(
            FAST, http.StaticAuth(bearer=TOKEN), {"http://elsewhere.example:80"}, remote_origins={server.url}
        )
        link = f"{server.url}/p.zip?token={PASSWORD}"
        for provider in (trusted, untrusted):
            with pytest.raises((Unauthorized, Unavailable)) as caught:
                provider.fetch(ProductRequest(S2_ID, download_link=link), tmp_path)
            failures.append(caught.value)
    assert isinstance(failures[0], Unauthorized) and isinstance(failures[1], Unavailable)
    shown = "\n".join([*map(str, failures), caplog.text, repr(trusted.auth)])
    assert TOKEN not in shown and PASSWORD not in shown
    assert public_url(f"https://u:{PASSWORD}@h:8/p?token={PASSWORD}#x") == "https://h:8/p"


def test_link_credentials_need_the_configured_scheme_and_port_too(web: Serve, tmp_path: pathlib.Path) -> None:
    """A template `https://h/…` does not send the token to a link `http://h/…` (cleartext) nor to another
    port of the same host."""
    with web(lambda request: serve_bytes(request, BODY)) as server:
        port = server.url.rsplit(":", 1)[1]
        configured = {f"https://127.0.0.1:{port}", "http://127.0.0.1:1"}
        provider = LinkProvider(FAST, http.StaticAuth(bearer=TOKEN), configured, remote_origins={server.url})
        provider.fetch(ProductRequest(S2_ID, download_link=f"{server.url}/p.tif"), tmp_path)
    assert [r.path for r in server.requests] == ["/p.tif"]
    assert "authorization" not in server.requests[0].headers
    assert (tmp_path / f"{S2_ID}.tif").read_bytes() == BODY


def test_link_provider_without_a_link_is_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(NotFound, match=r"downloadLink not found in scene.metadata"):
        LinkProvider(FAST).fetch(ProductRequest(S2_ID), tmp_path)
    with pytest.raises(FailedPrecondition, match="storage strategy"):
        LinkProvider(FAST).fetch(ProductRequest(S2_ID, download_link="ftp://h/x.zip"), tmp_path)


def test_link_provider_uses_local_zips_in_place(tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "store" / f"{S2_ID}.zip"
    archive.parent.mkdir()
    archive.write_bytes(PRODUCT)
    workdir = tmp_path / "work"
    provider = LinkProvider(FAST, local_roots=[tmp_path / "store"])
    provider.fetch(ProductRequest(S2_ID, download_link=archive.as_uri()), workdir)
    assert (workdir / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").read_bytes() == b"<xml/>"
    assert archive.is_file()  # used in place, never moved


def test_a_failing_checksum_thread_stops_the_transfer_instead_of_hanging() -> None:
    from services.downloader.providers.transfer import _HashPipe

    class Broken:
        def update(self, chunk: bytes) -> None:
            raise MemoryError("no room to hash")

    with pytest.raises(RuntimeError, match="checksum computation failed"), _HashPipe([Broken()]) as pipe:
        for _ in range(50):  # far more than the queue holds: a dead consumer must not block feed()
            pipe.feed(b"x" * 1024)
    digest = hashlib.md5(usedforsecurity=False)
    with _HashPipe([digest]) as pipe:
        for part in (b"a" * 3000, b"b" * 5000):
            pipe.feed(part)
    assert digest.hexdigest() == hashlib.md5(b"a" * 3000 + b"b" * 5000, usedforsecurity=False).hexdigest()


def test_remote_links_only_on_allowed_origins(web: Serve, tmp_path: pathlib.Path) -> None:
    """A payload's link must not make the worker fetch internal URLs or other buckets: refused, fatal,
    without a request, unless its origin is allowed (or one of our configured ones)."""
    with web(lambda r: serve_bytes(r, BODY)) as server:
        for link in (
            f"{server.url}/p.tif",
            "http://169.254.169.254/latest/meta-data",
            "s3://other-tenant/p.zip",
        ):
            with pytest.raises(FailedPrecondition, match="LINK_ALLOWED_ORIGINS"):
                LinkProvider(FAST).fetch(ProductRequest(S2_ID, download_link=link), tmp_path)
        assert server.requests == []
        LinkProvider(FAST, remote_origins={server.url}).fetch(
            ProductRequest(S2_ID, download_link=f"{server.url}/p.tif"), tmp_path
        )
    assert (tmp_path / f"{S2_ID}.tif").read_bytes() == BODY
