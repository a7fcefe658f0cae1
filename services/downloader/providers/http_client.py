"""A small HTTP/1.1 client on the standard library's `http.client`, for the download providers.

Why not httpx or requests: a product is gigabytes, and `HTTPResponse.read1` hands over what one socket
read brought (up to 1 MiB) with nothing in between. On loopback it ran about twice as fast as httpx's
`iter_raw` and at least as fast as curl (docs/benchmarks.md), memory bounded by the chunk size. What we
need beyond it is here: redirects (with the rule below for credentials), HTTPS with certificate checks,
`http(s)_proxy`/`no_proxy`, and HTTP statuses turned into our error table.

Credentials across redirects: `Authorization` follows a redirect only to the same origin (scheme, host
and port: the `http://h` → `https://h` upgrade on the default ports counts as the same), or to one of
the `trusted` origins the caller names: the hosts its credentials are configured for (the HTTP
templates' hosts; the CDSE download, catalogue and redirect hosts of the Copernicus settings, so
`catalogue.dataspace.copernicus.eu` → `download.dataspace.copernicus.eu` keeps the token). Never to
another host of the same domain (`a.s3.amazonaws.com` → `b.s3.amazonaws.com` are different
customers), and never from https to plain http, trusted or not. Once dropped, it stays dropped for
the rest of the redirect chain.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from services.runtime.errors import FailedPrecondition, NotFound, PermissionDenied, Unavailable
from services.runtime.urls import public_url

_MAX_REDIRECTS = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The reference's transient statuses (spec §8.2), plus 509/598/599 seen on overloaded mirrors.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 501, 502, 503, 504, 509, 598, 599})


class Unauthorized(PermissionDenied):
    """401: the credentials were refused (expired token, wrong password)."""


@dataclasses.dataclass
class Reply:
    """An open response: read the body from `response`, then `close()`."""

    url: str
    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection

    @property
    def status(self) -> int:
        return self.response.status

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def origin(url: str) -> str:
    """`scheme://host:port` of a URL (lower case, the default port written out): what credentials are
    bound to. "" when the URL has no host."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    return f"{scheme}://{host}:{port}"


def keeps_credentials(previous: str, following: str, trusted: AbstractSet[str] = frozenset()) -> bool:
    """Whether `Authorization` sent to `previous` may go on to `following`, the URL it redirects to.

    `trusted` holds origins (see `origin`). Never from https to anything weaker; then the same origin, the
    http→https upgrade of the same host on the default ports, or a trusted origin."""
    before, after = origin(previous), origin(following)
    if not after:
        return False
    if before.startswith("https://") and not after.startswith("https://"):
        return False  # never in cleartext once on TLS
    if after == before or after in trusted:
        return True
    # http://h → https://h on the default ports: the usual upgrade, a safer channel to the same host.
    host = before.removeprefix("http://").removesuffix(":80")
    return before == f"http://{host}:80" and after == f"https://{host}:443"


def _connect(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """A connection for `url` (through the environment's proxy if any) and the request target."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FailedPrecondition(f"unsupported URL {public_url(url)!r}: http(s) only")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        proxy_host, proxy_port = proxy_parts.hostname or "", proxy_parts.port or 8080
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                proxy_host, proxy_port, timeout=timeout, context=ssl.create_default_context()
            )
            conn.set_tunnel(parts.hostname, port)
            return conn, target
        # Plain HTTP through a proxy: the absolute URL is the request target.
        return http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout), url
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
        ), target
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), target


def request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    *,
    timeout: float = 60.0,
    trusted: AbstractSet[str] = frozenset(),
) -> Reply:
    """Sends the request, following redirects; any status comes back (see `raise_for_status`).

    `Authorization` follows a redirect as `keeps_credentials` says (`trusted`: origins it may also go to).
    Connection failures and timeouts raise Unavailable (transient, spec §8.2: "no HTTP response")."""
    headers = dict(headers or {})
    for _ in range(_MAX_REDIRECTS + 1):
        conn, target = _connect(url, timeout)
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Unavailable(f"{public_url(url)}: no response ({_describe(exc)})") from exc
        location = response.getheader("Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            response.read(64 * 1024)  # a redirect's body is a short note: drain it, then drop the socket
            conn.close()
            previous, url = url, urllib.parse.urljoin(url, location)
            if not keeps_credentials(previous, url, trusted):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status == 303:
                method, body = "GET", None
            continue
        return Reply(url, response, conn)
    raise Unavailable(f"{public_url(url)}: more than {_MAX_REDIRECTS} redirects")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return str(exc) or type(exc).__name__


def retry_after(reply: Reply, now: float | None = None) -> float | None:
    """Seconds asked by a `Retry-After` header (delta-seconds or HTTP date), or None."""
    value = (reply.header("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def raise_for_status(reply: Reply, what: str) -> None:
    """Maps an unsuccessful status onto the error table; `what` names the provider and product.

    404/410 → NotFound (the next provider may have it); 401 → Unauthorized; 403 → PermissionDenied;
    408/429/5xx → Unavailable (transient); any other 4xx → FailedPrecondition. The body is not quoted:
    an error page may echo request headers."""
    status = reply.status
    if status < 400:
        return
    reason = f"{what}: HTTP {status} {reply.response.reason} from {public_url(reply.url)}"
    reply.close()
    if status in (404, 410):
        raise NotFound(f"{what}: product not found ({public_url(reply.url)}: HTTP {status})")
    if status == 401:
        raise Unauthorized(reason)
    if status == 403:
        raise PermissionDenied(reason)
    if status in TRANSIENT_STATUSES or status >= 500:
        raise Unavailable(reason)
    raise FailedPrecondition(reason)
