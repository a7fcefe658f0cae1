"""libs/http, the one outbound HTTP stack, against real loopback servers: an HTTP proxy demanding
credentials (forwarding and CONNECT tunnels to a TLS origin), redirects and credentials, the status table,
the retry policy; and the rule that production code uses no other HTTP client library."""

from __future__ import annotations

import pathlib
import re
import ssl
import threading
from collections.abc import Iterator

import pytest
import requests
from support.httpserver import LocalHTTPServer, Request, Response, serve_bytes
from support.proxyserver import AuthProxy
from support.tls import make_pki

from libs.http import client, errors, origins
from libs.http.retry import RetryPolicy, retry_after_seconds
from services.downloader.providers import transfer
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
BODY = bytes(range(256)) * 64
FAST = transfer.Policy(
    resume_attempts=2, retry_pause=0.001, retry_after_max=5.0, timeout=5.0, chunk_size=4096
)
USER, SECRET = "proxy-user", "pr0xy-s3cret:with@odd/chars"
TOKEN = "origin-bearer-token"


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalHTTPServer, pathlib.Path]]:
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    with LocalHTTPServer(lambda request: serve_bytes(request, BODY), ssl_context=context) as server:
        yield server, pki.ca


def _download(url: str, folder: pathlib.Path, **kw: object) -> pathlib.Path:
    return transfer.download(url, folder / "p.bin", ProductRequest(S2_ID), provider="Test", policy=FAST, **kw)  # type: ignore[arg-type]


# --- proxies with credentials ---------------------------------------------------------------------


def test_a_plain_http_download_goes_through_the_proxy_with_its_credentials(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    with (
        LocalHTTPServer(lambda request: serve_bytes(request, BODY)) as origin,
        AuthProxy(USER, SECRET) as proxy,
    ):
        no_proxy_env.setenv("http_proxy", proxy.url(USER, SECRET))
        assert _download(f"{origin.url}/p.bin", tmp_path).read_bytes() == BODY
        # The proxy forwarded it (absolute URI, credentials right), the origin never saw them.
        assert [(s.method, s.target, s.authorized) for s in proxy.seen] == [
            ("GET", f"{origin.url}/p.bin", True)
        ]
        assert "proxy-authorization" not in origin.requests[0].headers
        # Wrong credentials: the proxy's 407 is a refusal (PermissionDenied), not a missing product.
        no_proxy_env.setenv("http_proxy", proxy.url(USER, "wrong"))
        with pytest.raises(PermissionDenied, match="HTTP 407") as caught:
            _download(f"{origin.url}/p.bin", tmp_path)
        assert "wrong" not in str(caught.value) and SECRET not in str(caught.value)


def test_an_https_download_tunnels_through_the_proxy_with_its_credentials(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: pathlib.Path, tls_origin: tuple[LocalHTTPServer, pathlib.Path]
) -> None:
    origin, ca = tls_origin
    no_proxy_env.setenv("SSL_CERT_FILE", str(ca))  # the test CA, as an operator would configure it
    with AuthProxy(USER, SECRET) as proxy:
        no_proxy_env.setenv("https_proxy", proxy.url(USER, SECRET))
        assert _download(f"{origin.url}/p.bin", tmp_path, auth=_Bearer()).read_bytes() == BODY
        port = origin.url.rsplit(":", 1)[1]
        assert [(s.method, s.target, s.authorized) for s in proxy.seen] == [
            ("CONNECT", f"127.0.0.1:{port}", True)
        ]
        # Inside the tunnel the origin got its own credentials, and never the proxy's.
        seen = origin.requests[-1].headers
        assert seen["authorization"] == f"Bearer {TOKEN}" and "proxy-authorization" not in seen
        no_proxy_env.setenv("https_proxy", proxy.url(USER, "wrong"))
        with pytest.raises(PermissionDenied, match="proxy refused its credentials") as caught:
            _download(f"{origin.url}/p.bin", tmp_path)
        assert "wrong" not in str(caught.value)


def test_no_proxy_bypasses_the_proxy(no_proxy_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    with (
        LocalHTTPServer(lambda request: serve_bytes(request, BODY)) as origin,
        AuthProxy(USER, SECRET) as proxy,
    ):
        no_proxy_env.setenv("http_proxy", proxy.url(USER, SECRET))
        no_proxy_env.setenv("no_proxy", "127.0.0.1")
        assert _download(f"{origin.url}/p.bin", tmp_path).read_bytes() == BODY
        assert proxy.seen == [] and len(origin.requests) == 1


def test_an_untrusted_certificate_is_refused(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: pathlib.Path, tls_origin: tuple[LocalHTTPServer, pathlib.Path]
) -> None:
    origin, _ca = tls_origin
    with pytest.raises(Unavailable, match="no response"):
        _download(f"{origin.url}/p.bin", tmp_path)  # certifi's bundle does not know the test CA


class _Bearer:
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def refresh(self) -> bool:
        return False


# --- redirects and credentials --------------------------------------------------------------------


def test_the_session_drops_credentials_on_a_redirect_elsewhere_unless_trusted(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    with LocalHTTPServer(lambda request: Response(200, b"ok")) as other:
        target = f"{other.url}/there"
        with LocalHTTPServer(lambda request: Response(302, headers={"Location": target})) as first:
            for trusted, kept in ((frozenset(), False), (frozenset({origins.origin(other.url)}), True)):
                with client.session(5.0, trusted=trusted) as session:
                    answer = session.get(f"{first.url}/here", headers={"Authorization": f"Bearer {TOKEN}"})
                assert answer.status_code == 200
                assert ("authorization" in other.requests[-1].headers) is kept
            assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in first.requests)


def test_netrc_credentials_are_never_sent(no_proxy_env: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    no_proxy_env.setenv("NETRC", str(netrc))
    with LocalHTTPServer(lambda request: Response(200, b"ok")) as server, client.session(5.0) as session:
        assert session.get(f"{server.url}/x").status_code == 200
        assert requests.utils.get_netrc_auth(f"{server.url}/x") == ("someone", "netrc-secret")  # it is there…
    assert "authorization" not in server.requests[0].headers  # …and not used


def test_origins() -> None:
    assert origins.origin("HTTPS://Host/a") == "https://host:443" == origins.origin("https://host:443/b")
    assert origins.origin("http://[::1]:8080/x") == "http://[::1]:8080"
    assert origins.origin("/local/path") == "" and origins.origin("http://h:notaport/") == ""
    assert origins.place("s3://Bucket/key") == "s3://bucket" and origins.place("/x") == ""
    assert origins.same_origin("http://h/a", "http://h:80/b") and not origins.same_origin(
        "http://h/", "https://h/"
    )


# --- the status table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (304, None),
        (400, FailedPrecondition),
        (401, errors.Unauthorized),
        (403, PermissionDenied),
        (404, NotFound),
        (407, PermissionDenied),
        (408, Unavailable),
        (410, NotFound),
        (418, FailedPrecondition),
        (422, FailedPrecondition),
        (425, Unavailable),
        (429, Unavailable),
        (500, Unavailable),
        (501, Unavailable),
        (503, Unavailable),
        (509, Unavailable),
        (599, Unavailable),
    ],
)
def test_the_status_table(status: int, kind: type[Exception] | None) -> None:
    error = errors.for_status(status, f"HTTP {status}")
    assert type(error) is kind if kind is not None else error is None
    refused = errors.for_status(status, "x", refused_field="scene_type.parameters")
    if status in (400, 422):
        assert isinstance(refused, InvalidArgument) and refused.field == "scene_type.parameters"
    else:
        assert type(refused) is type(error)


# --- the retry policy -----------------------------------------------------------------------------


def test_the_search_policy_retries_transient_statuses_and_returns_the_last_answer() -> None:
    answers = iter([Response(503, b"busy"), Response(502, b"bad"), Response(200, b"ok")])
    with LocalHTTPServer(lambda request: next(answers, Response(500))) as server:
        with client.session(5.0, retry=RetryPolicy(attempts=2, backoff=0.0)) as session:
            assert session.post(f"{server.url}/search", json={}).text == "ok"  # POST retried too
        assert len(server.requests) == 3
    with LocalHTTPServer(lambda request: Response(404, b"no")) as server:
        with client.session(5.0, retry=RetryPolicy(attempts=3, backoff=0.0)) as session:
            assert session.get(server.url).status_code == 404
        assert len(server.requests) == 1  # not transient: never retried


def test_retry_after_is_waited_with_the_callers_wait_and_refused_beyond_the_ceiling() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=2, statuses=frozenset(), network=False, retry_after=True, longest_wait=30)
    answers = iter([Response(429, headers={"Retry-After": "7"}), Response(200, b"ok")])
    with (
        LocalHTTPServer(lambda request: next(answers)) as server,
        client.session(5.0, retry=policy, wait=waits.append) as session,
    ):
        assert session.get(server.url).text == "ok"
    assert waits == [7.0]
    for header in ("3600", "soon"):  # too long, unreadable: the answer comes back as it is, unwaited
        with LocalHTTPServer(lambda request, h=header: Response(503, headers={"Retry-After": h})) as server:
            with client.session(5.0, retry=policy, wait=waits.append) as session:
                assert session.get(server.url).status_code == 503
            assert len(server.requests) == 1
    assert waits == [7.0]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_a_cancelled_wait_stops_the_retry_at_once(tmp_path: pathlib.Path) -> None:
    cancel = threading.Event()
    product = ProductRequest(S2_ID, cancel=cancel)

    def busy(request: Request) -> Response:
        cancel.set()  # cancelled while the 429 is on its way
        return Response(429, headers={"Retry-After": "4"})

    with LocalHTTPServer(busy) as server, pytest.raises(transfer.Cancelled):
        transfer.download(f"{server.url}/p", tmp_path / "p", product, provider="T", policy=FAST)
    assert len(server.requests) == 1


# --- one client library ---------------------------------------------------------------------------


def test_production_code_uses_no_other_http_client_library() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    other = re.compile(r"^\s*(import|from)\s+(httpx|http\.client|urllib\.request|aiohttp)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(root))
        for folder in ("services", "gateway", "libs", "benchmarks")
        for path in (root / folder).rglob("*.py")
        if other.search(path.read_text())
    ]
    assert offenders == []
