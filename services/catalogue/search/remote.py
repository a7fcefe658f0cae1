"""What the remote scene sources (CDSE OData, STAC APIs) share: HTTP options, the mapping of remote
failures onto our error table, the payload parameters they parse alike, and client-side paging.

Error policy: libs.http.errors' table, read for a search (the inventory falls back to the next source on
anything but InvalidArgument):
* network errors, timeouts, 408, 425, 429 and 5xx → `Unavailable`, naming the source: try the next one;
* 400/422 → `InvalidArgument`: the remote refused the query built from the payload, so no other
  source will do better and the caller must see why (the remote's text, shortened);
* 401/403/404 and other 4xx → `FailedPrecondition` (where the table says Unauthorized, PermissionDenied
  or NotFound): for a search endpoint they mean that credentials or URL/collection settings are wrong,
  an operator's problem, not a missing scene; the next source may still answer.

Retries are the session's (libs.http.retry, `HttpOptions.retry()`): the transient statuses and network
errors, `retries` times, waiting b, 3b, 7b s.

The remote's text is quoted only when the request carried no credentials: error pages may echo the
request's headers, and these errors reach the HTTP client. Credentials go only to the configured
origin: a next-page link elsewhere is refused (`Unavailable`), never followed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests

from libs.http import client, errors
from libs.http.errors import RETRIED_STATUSES
from libs.http.retry import RetryPolicy, backoff_delay
from libs.runtime.errors import FailedPrecondition, IngesterError, InvalidArgument, Unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["RETRIED_STATUSES", "backoff_delay"]  # re-exported: the sources' tests and settings name them

_CLOUD_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$")
_FIELD = "scene_type.parameters"
# Remote error bodies can be whole HTML pages: keep what identifies the problem.
_MAX_REMOTE_TEXT = 300


@dataclasses.dataclass(frozen=True)
class HttpOptions:
    timeout: float = 30.0
    # Attempts after the first one for network errors, timeouts and RETRIED_STATUSES (the reference
    # retries 3 times; other 4xx are never retried).
    retries: int = 3
    # Back-off before retry n is backoff * (2**n - 1): the attempts start at 0, b, 3b, 7b s as the
    # reference's. Retry-After is not honoured: a search must not hang on a remote's say-so (a 429 with
    # `Retry-After: 3600`), the fallback chain serves instead.
    backoff: float = 1.0
    # Extra headers (credentials); never logged.
    headers: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def retry(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.retries, backoff=self.backoff)

    def session(self) -> client.Session:
        """A session doing these retries. The headers are not set on it: they go only to the configured
        origin (each source adds them per request)."""
        return client.session(self.timeout, retry=self.retry())


def remote_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REMOTE_TEXT else text[:_MAX_REMOTE_TEXT] + "…"


def http_error(source: str, status: int, text: str, credentials: bool = False) -> IngesterError:
    """The error for a non-2xx answer of `source` (see the module docstring). `credentials`: the request
    carried some, so the answer's text is not quoted (it may echo them)."""
    if credentials:
        detail = f"{source}: HTTP {status} (the answer is not quoted: the request carried credentials)"
    else:
        detail = f"{source}: HTTP {status}: {remote_text(text)}"
    error = errors.for_status(status, detail, refused_field=_FIELD)
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, InvalidArgument):
        return InvalidArgument(_FIELD, f"the catalogue refused the query ({detail})")
    return FailedPrecondition(f"{detail} (check the source's URL, collection and credentials)")


def get_json(session: requests.Session, url: str, source: str, options: HttpOptions) -> Any:
    """GET a JSON document (retried by the session, see `HttpOptions.session`); raises the error
    table's errors."""
    try:
        response = session.get(url, headers=options.headers)
    except requests.RequestException as exc:
        if errors.is_timeout(exc):
            raise Unavailable(f"{source}: no answer within {options.timeout:g} s") from None
        raise Unavailable(f"{source}: cannot reach the catalogue: {errors.describe(exc)}") from None
    if response.ok:
        try:
            return response.json()
        except ValueError:
            raise Unavailable(f"{source}: the answer is not JSON") from None
    raise http_error(source, response.status_code, response.text, bool(options.headers))


def go_value(value: Any) -> str:
    """An attribute value as the reference stringifies a decoded JSON value: integral numbers without
    `.0`, other numbers in their shortest form, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


def cloud_range(value: str, field: str) -> tuple[float, float]:
    """`cloudcoverpercentage` as `[min TO max]` (the reference's syntax for every catalogue)."""
    match = _CLOUD_RANGE.match(value.strip())
    try:
        low, high = float(match[1]), float(match[2])  # type: ignore[index]
    except (TypeError, ValueError):
        raise InvalidArgument(field, f"cloudcoverpercentage must be '[Min TO Max]', got {value!r}") from None
    if low > high:
        raise InvalidArgument(field, f"cloudcoverpercentage: {low:g} is above {high:g}")
    return low, high


def integer(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidArgument(field, f"expected an integer, got {value!r}") from None


def take(
    pages: Iterator[tuple[list[T], bool]],
    skip: int,
    limit: int,
    max_scenes: int,
    source: str,
    keep: Callable[[T], bool] = lambda _: True,
) -> tuple[list[T], bool]:
    """Client-side paging over a provider's pages.

    `pages` yields (items, more) in provider order, `more` telling whether the provider announces a
    further page. The first `skip` kept items are dropped, then `limit` are returned with whether more
    may follow (the provider's word: no extra request is made to find out). `limit == 0` returns every
    match, across all pages — the reference stops at the first page (compatibility.md).
    """
    found: list[T] = []
    position = 0
    for items, more in pages:
        for index, item in enumerate(items):
            if not keep(item):
                continue
            position += 1
            if position <= skip:
                continue
            if limit and len(found) == limit:
                return found, True
            found.append(item)
            if not limit and len(found) > max_scenes:
                raise InvalidArgument(
                    "limit",
                    f"{source}: more than {max_scenes} scenes match; narrow the search or use page/limit",
                )
            if limit and len(found) == limit and index == len(items) - 1:
                return found, more
        if not more:
            break
    return found, False


def utc_millis(value: dt.datetime) -> str:
    """`2022-01-04T10:34:21.000Z`: the timestamp form both OData filters and STAC datetimes take (a naive
    value is taken as UTC)."""
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    # Not strftime: glibc prints year 1 (an area without start time) as "1", which no server parses.
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
