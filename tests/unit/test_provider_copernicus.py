"""Copernicus Data Space: the Keycloak token endpoint and the zipper `$value` download, served on loopback
the way CDSE documents them (form-encoded grants, JSON tokens, Bearer downloads with Range support,
`Products?$filter=Name eq '…'` answering `{"value": [{Id, Name, ContentLength, Checksum}]}`)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import pathlib
import urllib.parse
import zipfile
from collections.abc import Iterator

import pytest
from support.httpserver import LocalHTTPServer, Request, Response, serve_bytes

from services.downloader.providers import copernicus, transfer
from libs.http.errors import Unauthorized
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import NotFound, Unavailable
from libs.worker.outcome import is_temporary

S1_ID = "S1A_IW_SLC__1SDV_20220104T170000_20220104T170027_041311_04E9A7_1A2B"
UUID = "8f0c2a4e-0000-4000-8000-123456789abc"
PASSWORD = "cdse-pa55word"
FAST = transfer.Policy(resume_attempts=2, retry_pause=0.001, timeout=2.0)


def _product() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{S1_ID}.SAFE/manifest.safe", b"<manifest/>" * 500)
    return buffer.getvalue()


PRODUCT = _product()
MD5 = hashlib.md5(PRODUCT).hexdigest()


@dataclasses.dataclass
class Cdse:
    """A fake CDSE: tokens t1, t2… (each refused after `uses_per_token` downloads), one product."""

    uses_per_token: int = 100
    password: str = PASSWORD
    grants: list[dict[str, str]] = dataclasses.field(default_factory=list)
    downloads: list[Request] = dataclasses.field(default_factory=list)
    uses: dict[str, int] = dataclasses.field(default_factory=dict)
    expires_in: int = 600
    truncate_first: int | None = None
    filters: list[str | None] = dataclasses.field(default_factory=list)
    # Where `$value` redirects to (the zipper handing over to another CDSE host), if anywhere.
    redirect_to: str = ""

    def __call__(self, request: Request) -> Response:
        if request.path.endswith("/protocol/openid-connect/token"):
            return self.token(request)
        if request.path == "/odata/v1/Products":
            self.filters.append(request.param("$filter"))
            wanted = f"Name eq '{S1_ID}.SAFE'"
            if request.param("$filter") != wanted:
                return Response.json({"value": []})
            item = {
                "Id": UUID,
                "Name": f"{S1_ID}.SAFE",
                "ContentLength": len(PRODUCT),
                "Checksum": [{"Value": MD5, "Algorithm": "MD5", "ChecksumDate": "2022-01-04T18:00:00Z"}],
            }
            return Response.json({"value": [item]})
        if request.path == f"/odata/v1/Products({UUID})/$value" and self.redirect_to:
            return Response(307, headers={"Location": f"{self.redirect_to}/download/{UUID}"})
        if request.path in (f"/odata/v1/Products({UUID})/$value", f"/download/{UUID}"):
            self.downloads.append(request)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            self.uses[token] = self.uses.get(token, 0) + 1
            if (
                token not in {f"t{n}" for n in range(1, len(self.grants) + 1)}
                or self.uses[token] > self.uses_per_token
            ):
                return Response.json({"detail": "Expired signature!"}, status=401)
            response = serve_bytes(request, PRODUCT, ETag='"abc"')
            if self.truncate_first is not None and len(self.downloads) == 1:
                response.truncate_after = self.truncate_first
            return response
        return Response.json({"detail": "Not found"}, status=404)

    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()}
        self.grants.append(form)
        if form.get("client_id") != "cdse-public":
            return Response.json({"error": "invalid_client"}, status=401)
        if form["grant_type"] == "password" and form.get("password") != self.password:
            return Response.json(
                {"error": "invalid_grant", "error_description": "Invalid user credentials"}, status=401
            )
        return Response.json(
            {
                "access_token": f"t{len(self.grants)}",
                "expires_in": self.expires_in,
                "refresh_expires_in": 3600,
                "refresh_token": f"r{len(self.grants)}",
                "token_type": "Bearer",
            }
        )


@pytest.fixture(scope="module")
def _server() -> Iterator[LocalHTTPServer]:
    # One server per module (stopping one costs up to half a second); each test gets a fresh fake.
    with LocalHTTPServer(Cdse()) as server:
        yield server


@pytest.fixture
def cdse(_server: LocalHTTPServer) -> tuple[Cdse, str]:
    fake = Cdse()
    _server.handler = fake
    return fake, _server.url


def _provider(
    url: str, password: str = PASSWORD, redirect_urls: tuple[str, ...] = ()
) -> copernicus.CopernicusProvider:
    auth = copernicus.CdseAuth(
        f"{url}/auth/realms/CDSE/protocol/openid-connect/token", "me@example.org", password
    )
    return copernicus.CopernicusProvider(
        auth,
        url + "/odata/v1/Products({UUID})/$value",
        url + "/odata/v1/Products",
        FAST,
        redirect_urls=redirect_urls,
    )


def test_a_product_is_downloaded_with_a_password_grant_token_and_verified(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    fake, url = cdse
    provider = _provider(url)
    product = ProductRequest(S1_ID, uuid=UUID, checksums={"MD5": MD5}, size=len(PRODUCT))
    provider.fetch(product, tmp_path / "a")
    provider.fetch(product, tmp_path / "b")
    assert (tmp_path / "a" / f"{S1_ID}.SAFE" / "manifest.safe").read_bytes() == b"<manifest/>" * 500
    assert [g["grant_type"] for g in fake.grants] == ["password"]  # cached for the second download
    assert fake.grants[0] == {
        "grant_type": "password",
        "username": "me@example.org",
        "password": PASSWORD,
        "client_id": "cdse-public",
    }
    assert {r.headers["authorization"] for r in fake.downloads} == {"Bearer t1"}


def test_an_expired_token_is_renewed_with_the_refresh_token(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    fake, url = cdse
    fake.expires_in = 10  # below the renewal margin: stale at once
    provider = _provider(url)
    provider.fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path / "a")
    provider.fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path / "b")
    assert [g["grant_type"] for g in fake.grants] == ["password", "refresh_token"]
    assert fake.grants[1]["refresh_token"] == "r1"


def test_a_401_mid_download_refreshes_once_and_resumes(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    fake, url = cdse
    fake.uses_per_token = 1  # the token dies after the first (broken) request
    fake.truncate_first = 1000
    _provider(url).fetch(ProductRequest(S1_ID, uuid=UUID, checksums={"MD5": MD5}), tmp_path)
    assert (tmp_path / f"{S1_ID}.SAFE" / "manifest.safe").is_file()
    assert [g["grant_type"] for g in fake.grants] == ["password", "refresh_token"]
    assert [r.headers.get("range") for r in fake.downloads] == [None, "bytes=1000-", "bytes=1000-"]
    assert fake.downloads[-1].headers["if-range"] == '"abc"'


def test_a_401_after_the_refresh_fails_clearly(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, url = cdse
    fake.uses_per_token = 0  # every token is refused
    with pytest.raises(Unauthorized, match="even with a fresh token: check the credentials") as caught:
        _provider(url).fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path)
    assert not is_temporary(caught.value)
    assert len(fake.downloads) == 2 and list(tmp_path.iterdir()) == []
    assert PASSWORD not in str(caught.value) + caplog.text and "Bearer t" not in caplog.text


def test_a_wrong_password_is_a_clear_permanent_error(cdse: tuple[Cdse, str], tmp_path: pathlib.Path) -> None:
    _, url = cdse
    with pytest.raises(Unauthorized, match="check the Copernicus username and password") as caught:
        _provider(url, password="wrong-secret").fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path)
    assert "wrong-secret" not in str(caught.value) and not is_temporary(caught.value)
    assert "wrong-secret" not in repr(_provider(url, password="wrong-secret").auth)


def test_without_an_id_the_product_is_looked_up_by_name(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    fake, url = cdse
    _provider(url).fetch(ProductRequest(S1_ID), tmp_path)
    assert (tmp_path / f"{S1_ID}.SAFE" / "manifest.safe").is_file()
    assert fake.downloads[0].path == f"/odata/v1/Products({UUID})/$value"
    # The catalogue's checksum and size were used: a wrong recorded one fails (nothing left behind).
    looked_up = _provider(url).lookup(ProductRequest(S1_ID))
    assert looked_up.checksums == {"MD5": MD5} and looked_up.size == len(PRODUCT)


def test_a_quote_in_the_name_is_doubled_in_the_odata_literal(cdse: tuple[Cdse, str]) -> None:
    """OData string literals double a single quote; left as is, the id would end the literal and
    append its own filter clause."""
    fake, url = cdse
    odd = S1_ID + "' or Name ne '"
    with pytest.raises(NotFound, match="product not found"):
        _provider(url).lookup(ProductRequest(odd))
    assert fake.filters == [f"Name eq '{S1_ID}'' or Name ne ''.SAFE'"]
    assert copernicus.odata_string("it's") == "'it''s'"


def test_the_token_follows_a_redirect_only_to_a_configured_cdse_host(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    """The zipper may hand a download over to another CDSE host: the token goes along to the hosts the
    provider is configured with, never to another one (here `localhost`, the same server by another name)."""
    fake, url = cdse
    other = url.replace("127.0.0.1", "localhost")
    fake.redirect_to = other
    _provider(url, redirect_urls=(other,)).fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path / "a")
    assert (tmp_path / "a" / f"{S1_ID}.SAFE" / "manifest.safe").is_file()
    assert [(r.path, r.headers.get("authorization")) for r in fake.downloads] == [
        (f"/download/{UUID}", "Bearer t1")
    ]
    fake.downloads.clear()
    with pytest.raises(Unauthorized):
        _provider(url).fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path / "b")
    assert fake.downloads and all("authorization" not in r.headers for r in fake.downloads)


def test_unknown_or_unsupported_products_are_not_found(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    _, url = cdse
    other = S1_ID.replace("1A2B", "FFFF")
    with pytest.raises(NotFound, match=r"product not found: no S1A_.*FFFF\.SAFE"):
        _provider(url).fetch(ProductRequest(other), tmp_path)
    with pytest.raises(NotFound, match="only Sentinel-1 and Sentinel-2"):
        _provider(url).fetch(ProductRequest("LC08_L1TP_196030_20220104_20220114_02_T1"), tmp_path)


def test_a_wrong_checksum_from_the_catalogue_is_transient(
    cdse: tuple[Cdse, str], tmp_path: pathlib.Path
) -> None:
    _, url = cdse
    with pytest.raises(Unavailable, match="MD5 checksum mismatch") as caught:
        _provider(url).fetch(ProductRequest(S1_ID, uuid=UUID, checksums={"MD5": "f" * 32}), tmp_path)
    assert is_temporary(caught.value) and list(tmp_path.iterdir()) == []


def test_token_response_without_access_token_is_transient(
    _server: LocalHTTPServer, tmp_path: pathlib.Path
) -> None:
    _server.handler = lambda request: Response(200, json.dumps({"oops": 1}).encode())
    with pytest.raises(Unavailable, match="without an access_token") as caught:
        _provider(_server.url).fetch(ProductRequest(S1_ID, uuid=UUID), tmp_path)
    assert is_temporary(caught.value)
