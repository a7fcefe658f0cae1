"""The session factory of every outbound HTTP call (downloads, catalogue sources, STAC, annotations,
ranged reads, the STAC publisher and the command line).

A `Session` is a requests.Session with:
- connect and read timeouts applied to every request that names none (requests has no default: a
  silent server would hang a worker forever);
- proxies from the environment (`http_proxy`, `https_proxy`, `no_proxy`, `all_proxy`), credentials in
  the proxy URL included (`https_proxy=http://user:pass@proxy:3128` sends `Proxy-Authorization` on the
  forwarded request or the CONNECT of a tunnel): requests' `trust_env`;
- certificates checked against `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` (requests' variables), else
  `SSL_CERT_FILE`, else the system's bundle (where an operator's own CAs are, as for the Go reference and
  our former http.client downloads), else certifi's; pystac-client's calls included;
- the redirect/credential rule of libs.http.origins (at most 10 redirects), and no `.netrc` credentials:
  a payload's URL must not collect the machine's stored passwords;
- the retries of a libs.http.retry policy, done by urllib3 in the adapters.

Sessions are cheap; one per search, per download or per open ranged file keeps cancellation hooks and
connection pools local to it. A Session is not shared between threads.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

import requests
import requests.adapters

from libs.http import origins
from libs.http.retry import NONE, RetryPolicy

MAX_REDIRECTS = 10
# urllib3 logs each request line at DEBUG, query string included (presigned signatures, `?token=`):
# never below INFO, whatever the process's log level.
logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLogger("urllib3").level))


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, then for each read (between two bytes, not for the body)."""

    connect: float = 30.0
    read: float = 60.0

    @classmethod
    def of(cls, seconds: float) -> Timeouts:
        """One figure for both, as the settings give it."""
        return cls(connect=seconds, read=seconds)

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


class Session(requests.Session):
    def __init__(self, timeouts: Timeouts, trusted: AbstractSet[str] = frozenset()):
        super().__init__()
        self.timeouts = timeouts
        self.trusted = frozenset(trusted)
        self.max_redirects = MAX_REDIRECTS
        # requests' trust_env reads the proxies and CA variables, and .netrc, which rebuild_auth below and
        # the `auth` default skip.
        self.trust_env = True
        self.auth = _keep  # a no-op: with no auth at all, requests would look the host up in ~/.netrc
        self.verify = _ca_bundle()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeouts.pair()
        return super().request(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # pystac-client prepares and sends itself (timeout given); keep ours when it gives none.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeouts.pair()
        return super().send(request, **kwargs)

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        # pystac-client passes verify=True, which would override the session's bundle with certifi's.
        if verify is True:
            verify = None
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On each redirect: `Authorization` stays only as libs.http.origins.keeps_credentials says."""
        headers = prepared_request.headers
        if "Authorization" in headers and not origins.keeps_credentials(
            response.request.url or "", prepared_request.url or "", self.trusted
        ):
            del headers["Authorization"]


def _ca_bundle() -> str | bool:
    """The CA file to check certificates with (REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE still win: trust_env)."""
    named = os.environ.get("SSL_CERT_FILE")
    if named:
        return named
    system = ssl.get_default_verify_paths().openssl_cafile
    return system if os.path.isfile(system) else True  # True: certifi's bundle


def _keep(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def session(
    timeouts: Timeouts | float = Timeouts(),
    *,
    retry: RetryPolicy = NONE,
    wait: Callable[[float], None] = time.sleep,
    trusted: AbstractSet[str] = frozenset(),
    headers: dict[str, str] | None = None,
) -> Session:
    """A session doing `retry` (waiting with `wait`), credentials allowed to follow redirects to the
    `trusted` origins. `headers` go with every request, redirects included: never credentials here."""
    if not isinstance(timeouts, Timeouts):
        timeouts = Timeouts.of(timeouts)
    made = Session(timeouts, trusted)
    adapter = requests.adapters.HTTPAdapter(max_retries=retry.urllib3_retry(wait))
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    if headers:
        made.headers.update(headers)
    return made
