"""The one table from HTTP answers and transport failures to the errors of libs/runtime/errors.py.

| answer                                   | error             | why                                          |
|------------------------------------------|-------------------|----------------------------------------------|
| no answer: refused, reset, timeout, TLS  | Unavailable       | transient (spec §8.2 "no HTTP response")     |
| 408 425 429, any 5xx                     | Unavailable       | transient: a later attempt may succeed       |
| 404 410                                  | NotFound          | the next provider or source may have it      |
| 401                                      | Unauthorized      | credentials refused (a PermissionDenied)     |
| 403, 407 (also a CONNECT answered 407)   | PermissionDenied  | refused to us (407: the proxy's credentials) |
| 400 422                                  | InvalidArgument   | only for callers passing `refused_field`     |
| any other 4xx                            | FailedPrecondition| settings or the request must change          |

`RETRIED_STATUSES` is the transient set worth an immediate retry (libs.http.retry): the union of what the
downloader (the reference's set, spec §8.2, plus 509/598/599 of overloaded mirrors) and the catalogue
sources (408/429/500/502/503/504) retried before; 501 "Not Implemented" is transient in the table (as
every 5xx) but not retried at once: the same server will not implement the method a second later.

Callers that read an answer differently say so where they call (the catalogue sources: a 404 or 403 of a
search endpoint is a wrong URL or collection setting, so FailedPrecondition, see remote.http_error; the
ranged reader: 401/403 are StorageAccessDenied). Error texts never quote a URL's credentials or query
(public_url), nor an answer's body by default: error pages may echo request headers.
"""

from __future__ import annotations

import requests
import urllib3.exceptions

from libs.runtime.errors import (
    FailedPrecondition,
    IngesterError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from libs.runtime.urls import public_url

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 509, 598, 599})
NOT_FOUND_STATUSES = frozenset({404, 410})
# What reading a body may raise once the headers are in (urllib3's errors are not requests').
TRANSFER_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class Unauthorized(PermissionDenied):
    """401: the credentials were refused (expired token, wrong password)."""


def is_transient(status: int) -> bool:
    return status in RETRIED_STATUSES or status >= 500


def for_status(status: int, detail: str, *, refused_field: str | None = None) -> IngesterError | None:
    """The error for an answer's status (None below 400); `detail` is the whole message.

    `refused_field`: the payload field a 400/422 refusal points at (InvalidArgument); without it 400/422
    are FailedPrecondition like any other 4xx."""
    if status < 400:
        return None
    if is_transient(status):
        return Unavailable(detail)
    if status in NOT_FOUND_STATUSES:
        return NotFound(detail)
    if status == 401:
        return Unauthorized(detail)
    if status in (403, 407):
        return PermissionDenied(detail)
    if refused_field is not None and status in (400, 422):
        return InvalidArgument(refused_field, detail)
    return FailedPrecondition(detail)


def raise_for_status(response: requests.Response, what: str) -> None:
    """Raises the table's error for an unsuccessful answer (closing it); `what` names who asked.

    404/410 say "product not found" (the worker's word when every provider said so)."""
    status = response.status_code
    if status < 400:
        return
    url = public_url(response.url)
    response.close()
    if status in NOT_FOUND_STATUSES:
        raise NotFound(f"{what}: product not found ({url}: HTTP {status})")
    error = for_status(status, f"{what}: HTTP {status} {response.reason} from {url}")
    assert error is not None
    raise error


def describe(exc: BaseException) -> str:
    """A short reason for a transport failure: "timeout", or the exception's class and text (requests
    wraps urllib3's MaxRetryError, whose text names the URL with its query: not shown)."""
    if is_timeout(exc):
        return "timeout"
    for item in _chain(exc):
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException) and not isinstance(reason, str):
            return _short(reason)
    return _short(exc)


def is_timeout(exc: BaseException) -> bool:
    for item in _chain(exc):
        if isinstance(item, requests.Timeout | TimeoutError | urllib3.exceptions.TimeoutError):
            return True
        reason = getattr(item, "reason", None)
        if isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
            return True
    return False


def transport_error(exc: BaseException, what: str, url: str) -> IngesterError:
    """No answer (refused, reset, timeout, TLS or proxy failure): transient, unless the proxy refused our
    credentials for a tunnel (its 407 comes as an exception, not as an answer): PermissionDenied, as the
    table says of a forwarded request's 407."""
    if proxy_refused(exc):
        return PermissionDenied(f"{what}: {public_url(url)}: the proxy refused its credentials (HTTP 407)")
    return Unavailable(f"{what}: {public_url(url)}: no response ({describe(exc)})")


def proxy_refused(exc: BaseException) -> bool:
    # http.client's words when a CONNECT is answered 407 ("Tunnel connection failed: 407 …").
    return any("Tunnel connection failed: 407" in str(item) for item in _chain(exc))


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3's texts name the pool and the URL ("HTTPConnectionPool(host=…): Max retries exceeded with
    # url: /p?token=…"): keep the class name only when the text may carry the query.
    if "url:" in text or "?" in text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        args = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (args[0] if args else None)
    return seen
