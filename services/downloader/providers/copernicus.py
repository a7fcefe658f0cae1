"""Copernicus Data Space Ecosystem (spec §8.2 row 7): OAuth token, then the product's `$value`.

Token (Keycloak, `openid-connect/token`, form-encoded POST): the password grant with client
`cdse-public` gives `access_token` (about 10 minutes), `expires_in`, `refresh_token` and
`refresh_expires_in`. The access token is cached until a margin before its expiry, then renewed with the
`refresh_token` grant while that one is valid, else with the password again. A download refused with 401
(token revoked or expired under way) renews once and retries; a second 401 fails the provider clearly.

Product: `GET <download_url with {UUID}>` (zipper.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value)
with `Authorization: Bearer`, Range supported; the token follows redirects only within the configured
CDSE origins (download, catalogue and `redirect_urls`, e.g. download.dataspace.copernicus.eu). The Id, checksums and size come from the scene metadata
recorded by the catalogue; when the Id is missing (scenes from another catalogue, uploaded scenes.json)
it is looked up by Name in the OData catalogue (`Products?$filter=Name eq '<id>.SAFE'`), which also
gives `Checksum` and `ContentLength`.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import threading
import time
import urllib.parse
from collections.abc import Sequence

import requests

from libs.http import client, errors
from libs.http.origins import origin
from libs.domain import products
from services.downloader.providers import http, transfer
from services.downloader.providers.product import ProductRequest, parse_checksums
from libs.runtime.errors import NotFound, Unavailable
from libs.runtime.urls import public_url

logger = logging.getLogger(__name__)

_EXPIRY_MARGIN = 30.0  # renew this many seconds before the server's expiry: a request takes time
NAME = "CopernicusProvider"


@dataclasses.dataclass
class _Token:
    access: str
    expires: float  # time.monotonic() deadline
    refresh: str = ""
    refresh_expires: float = 0.0


class CdseAuth:
    """Bearer tokens of one CDSE account, shared by every download of the process (thread-safe)."""

    def __init__(
        self,
        token_url: str,
        username: str,
        password: str,
        *,
        client_id: str = "cdse-public",
        timeout: float = 60.0,
    ):
        self._url = token_url
        self._username = username
        self._password = password
        self._client_id = client_id
        self._timeout = timeout
        self._token: _Token | None = None
        self._lock = threading.Lock()
        # Used under the lock only (a requests Session is not for concurrent use); no retry: a refused
        # or failing token endpoint fails the download, which the queue retries later.
        self._session = client.session(timeout)

    def __repr__(self) -> str:
        return f"CdseAuth({public_url(self._url)!r}, {self._username!r}, ***)"

    def headers(self) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            if self._token is None or now >= self._token.expires:
                self._token = self._renew(self._token, now)
            return {"Authorization": f"Bearer {self._token.access}"}

    def refresh(self) -> bool:
        """After a 401: forget the access token; the next `headers()` renews it."""
        with self._lock:
            if self._token is not None:
                self._token.expires = 0.0
        return True

    def _renew(self, old: _Token | None, now: float) -> _Token:
        if old is not None and old.refresh and now < old.refresh_expires:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": old.refresh}, now)
            except errors.Unauthorized:
                logger.info("CDSE refresh token refused: signing in again")
        return self._grant(
            {"grant_type": "password", "username": self._username, "password": self._password}, now
        )

    def _grant(self, form: dict[str, str], now: float) -> _Token:
        headers = {"Accept": "application/json"}
        try:
            reply = self._session.post(
                self._url, data={**form, "client_id": self._client_id}, headers=headers
            )
        except requests.RequestException as exc:
            raise errors.transport_error(exc, f"{NAME}: token", self._url) from exc
        if reply.status_code in (400, 401):
            # Keycloak answers a wrong password or a dead refresh token with 401 (or 400 invalid_grant).
            reply.close()
            raise errors.Unauthorized(
                f"{NAME}: token refused by {public_url(self._url)} (HTTP {reply.status_code}, "
                f"{form['grant_type']} grant): check the Copernicus username and password"
            )
        errors.raise_for_status(reply, f"{NAME}: token")
        try:
            document = reply.json()
            access = str(document["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable(f"{NAME}: token endpoint answered without an access_token") from exc
        finally:
            reply.close()
        lifetime = float(document.get("expires_in") or 60)
        return _Token(
            access=access,
            expires=now + max(0.0, lifetime - _EXPIRY_MARGIN),
            refresh=str(document.get("refresh_token") or ""),
            refresh_expires=now + max(0.0, float(document.get("refresh_expires_in") or 0) - _EXPIRY_MARGIN),
        )


def odata_string(value: str) -> str:
    """An OData string literal: single-quoted, a quote inside doubled (OData ABNF `SQUOTE-in-string`)."""
    return "'" + value.replace("'", "''") + "'"


class CopernicusProvider:
    name = NAME

    def __init__(
        self,
        auth: CdseAuth,
        download_url: str,
        catalogue_url: str,
        policy: transfer.Policy,
        redirect_urls: Sequence[str] = (),
    ):
        self.auth = auth
        self.download_url = download_url
        self.catalogue_url = catalogue_url
        self.policy = policy
        # The token follows a redirect only within these CDSE origins (libs.http.origins.keeps_credentials):
        # the configured download and catalogue URLs' and the hosts CDSE is configured to redirect to.
        self.trusted = frozenset(origin(url) for url in (download_url, catalogue_url, *redirect_urls)) - {""}

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        constellation = products.constellation_from_product_id(product.source_id)
        if constellation not in (products.Constellation.SENTINEL1, products.Constellation.SENTINEL2):
            raise NotFound(f"{NAME}: only Sentinel-1 and Sentinel-2 products (not {product.source_id!r})")
        if not product.uuid:
            product = self.lookup(product)
        if not product.uuid:
            raise NotFound(f"{NAME}: the catalogue gave no Id for {product.source_id!r}")
        url = http.render(self.download_url, product)
        http.fetch_url(
            url, product, workdir, provider=NAME, auth=self.auth, policy=self.policy, trusted=self.trusted
        )

    def lookup(self, product: ProductRequest) -> ProductRequest:
        """Id, checksums and size of the product from the OData catalogue, by Name."""
        name = product.source_id if product.source_id.endswith(".SAFE") else product.source_id + ".SAFE"
        query = urllib.parse.urlencode(
            {"$filter": f"Name eq {odata_string(name)}"}, quote_via=urllib.parse.quote
        )
        url = f"{self.catalogue_url}?{query}"
        # The catalogue is public: no token is sent.
        with client.session(self.policy.timeout) as session:
            try:
                reply = session.get(url, headers={"Accept": "application/json"})
            except requests.RequestException as exc:
                raise errors.transport_error(exc, f"{NAME}: catalogue", url) from exc
            errors.raise_for_status(reply, f"{NAME}: catalogue")
            try:
                found = reply.json().get("value") or []
            except (ValueError, AttributeError) as exc:
                raise Unavailable(f"{NAME}: unreadable answer from {public_url(url)}") from exc
        if not found:
            raise NotFound(f"{NAME}: product not found: no {name} in {public_url(self.catalogue_url)}")
        item = found[0]
        size = item.get("ContentLength")
        return dataclasses.replace(
            product,
            uuid=str(item.get("Id") or ""),
            checksums=product.checksums or parse_checksums(item.get("Checksum")),
            size=product.size or (int(size) if isinstance(size, int) and size > 0 else None),
        )
