"""HTTP(S) URL templates (the FTP/ASF/PEPS rows of spec §8.2, for any web server or mirror).

`GEOCUBE_DOWNLOADER_HTTP_URLS=https://mirror.example/{MISSION_ID}/{YEAR}/{MONTH}/{DAY}/{SCENE}.zip,…`:
the placeholders are the product-id fields of spec §1.3 (`{SCENE}`, `{YEAR}`, `{MONTH}`, `{DAY}`,
`{MISSION_ID}`, `{MISSION_VERSION}`, `{PRODUCT_TYPE}`, `{TILE}`, …) plus `{AREA}` (the aoi), `{UUID}`
(scene metadata) and `{ID}` (the scene id as it is). Templates are tried in order; a 404 moves on to the
next one. The configured bearer token or basic auth is sent to these URLs only (and follows a redirect
only within a template's origin or to another template's: libs.http.origins.keeps_credentials).
"""

from __future__ import annotations

import base64
import logging
import pathlib
import re
import urllib.parse
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from libs.http.origins import origin
from libs.domain import products
from services.downloader.providers import transfer
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import FailedPrecondition, IngesterError, NotFound, PermissionDenied, Unavailable
from libs.runtime.urls import public_url
from libs.worker.outcome import is_temporary

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{[A-Z_]+\}")
_KNOWN_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".tif", ".tiff", ".jp2", ".nc", ".h5")


class StaticAuth:
    """A bearer token or basic credentials from the settings; refreshing is not possible."""

    def __init__(self, *, bearer: str = "", username: str = "", password: str = ""):
        self._headers: dict[str, str] = {}
        if bearer:
            self._headers["Authorization"] = f"Bearer {bearer}"
        elif username:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {pair}"

    def __repr__(self) -> str:
        return "StaticAuth(***)" if self._headers else "StaticAuth()"

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def refresh(self) -> bool:
        return False


def placeholders(product: ProductRequest) -> dict[str, str]:
    """`{KEY}` values for a product: its id fields (spec §1.3) plus AREA, UUID, ID."""
    try:
        info = products.product_info(product.source_id)
    except products.ProductIdError:
        info = {}
    # PHR ids have no SCENE key in the reference; the id itself is what a mirror names its files after.
    info.setdefault("SCENE", product.source_id)
    info.update(ID=product.source_id, AREA=product.aoi, UUID=product.uuid)
    return info


def render(template: str, product: ProductRequest, *, quote: bool = True) -> str:
    """The template with its placeholders filled (values URL-quoted); NotFound if one is unknown."""
    values = placeholders(product)
    if quote:
        values = {key: urllib.parse.quote(value, safe="") for key, value in values.items()}
    url = products.format_brackets(template, values)
    left = _PLACEHOLDER.findall(url)
    if left:
        raise NotFound(f"no value for {', '.join(left)} in a product named {product.source_id!r}")
    return url


def local_name(product: ProductRequest, url: str) -> str:
    """`<scene>.<ext of the URL>` as the reference names downloads; `.zip` when the URL tells nothing."""
    suffix = pathlib.PurePosixPath(urllib.parse.urlsplit(url).path).suffix.lower()
    return product.source_id + (suffix if suffix in _KNOWN_SUFFIXES else ".zip")


def fetch_url(
    url: str,
    product: ProductRequest,
    workdir: pathlib.Path,
    *,
    provider: str,
    auth: transfer.Auth | None,
    policy: transfer.Policy,
    trusted: AbstractSet[str] = frozenset(),
) -> None:
    """Downloads one URL into the workdir and unarchives it; `auth` may follow redirects to the
    `trusted` origins (libs.http.origins.keeps_credentials)."""
    workdir.mkdir(parents=True, exist_ok=True)
    archive = transfer.download(
        url,
        workdir / local_name(product, url),
        product,
        provider=provider,
        auth=auth,
        policy=policy,
        trusted=trusted,
    )
    transfer.unpack(archive, workdir, product)


def merged_failure(failures: Sequence[BaseException]) -> IngesterError:
    """One error for several URLs tried (each text names its provider and URL): NotFound if each said
    so, else transient if any was, else the refusal (credentials) or the first failure."""
    text = "; ".join(str(exc) for exc in failures)
    if all(isinstance(exc, NotFound) for exc in failures):
        return NotFound(text)
    if any(is_temporary(exc) for exc in failures):
        return Unavailable(text)
    if any(isinstance(exc, PermissionDenied) for exc in failures):
        return PermissionDenied(text)
    return FailedPrecondition(text)


class HttpProvider:
    name = "HttpProvider"

    def __init__(self, templates: Sequence[str], auth: transfer.Auth, policy: transfer.Policy):
        self.templates = list(templates)
        self.auth = auth
        self.policy = policy

    def origins(self) -> frozenset[str]:
        """Origins (scheme, host, port) our credentials may go to: the templates'. The download-link
        provider asks, and a redirect from one template host to another keeps the credentials."""
        return frozenset(origin(t) for t in self.templates) - {""}

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        failures: list[BaseException] = []
        for template in self.templates:
            try:
                url = render(template, product)
            except NotFound as exc:
                failures.append(NotFound(f"{self.name}: {public_url(template)}: {exc}"))
                continue
            try:
                fetch_url(
                    url,
                    product,
                    workdir,
                    provider=self.name,
                    auth=self.auth,
                    policy=self.policy,
                    trusted=self.origins(),
                )
                return
            except transfer.Cancelled:
                raise
            except IngesterError as exc:
                logger.info("%s: %s", self.name, exc)
                failures.append(exc)
        raise merged_failure(failures)
