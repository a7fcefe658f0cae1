"""What the remote scene sources (CDSE OData, STAC APIs) share: HTTP options, the mapping of remote
failures onto our error table, the payload parameters they parse alike, and client-side paging.

Error policy (the inventory falls back to the next source on anything but InvalidArgument):
* network errors, timeouts, 429 and 5xx → `Unavailable`, naming the source: try the next source;
* 400/422 → `InvalidArgument`: the remote refused the query built from the payload, so no other
  source will do better and the caller must see why (the remote's text, shortened);
* 401/403/404 and other 4xx → `FailedPrecondition`: credentials or URL/collection settings are wrong,
  an operator's problem; the next source may still answer.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from services.runtime.errors import FailedPrecondition, IngesterError, InvalidArgument, Unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CLOUD_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$")
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Remote error bodies can be whole HTML pages: keep what identifies the problem.
_MAX_REMOTE_TEXT = 300


@dataclasses.dataclass(frozen=True)
class HttpOptions:
    timeout: float = 30.0
    # Attempts after the first one for network errors, timeouts, 429 and 5xx (the reference retries 3
    # times; 4xx are never retried).
    retries: int = 3
    # Back-off before retry n is backoff * (2**n - 1): 0 s, 1 s, 3 s, 7 s as the reference.
    backoff: float = 1.0
    # Extra headers (credentials); never logged.
    headers: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)


def remote_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REMOTE_TEXT else text[:_MAX_REMOTE_TEXT] + "…"


def http_error(source: str, status: int, text: str) -> IngesterError:
    """The error for a non-2xx answer of `source` (see the module docstring)."""
    detail = f"{source}: HTTP {status}: {remote_text(text)}"
    if status in _RETRIED_STATUSES or status >= 500:
        return Unavailable(detail)
    if status in (400, 422):
        return InvalidArgument("scene_type.parameters", f"the catalogue refused the query ({detail})")
    return FailedPrecondition(f"{detail} (check the source's URL, collection and credentials)")


def get_json(client: httpx.Client, url: str, source: str, options: HttpOptions) -> Any:
    """GET a JSON document with the reference's retry policy; raises the error table's errors."""
    for attempt in range(options.retries + 1):
        if attempt:
            time.sleep(options.backoff * (2**attempt - 1))
        try:
            response = client.get(url, headers=options.headers, timeout=options.timeout)
        except httpx.TimeoutException:
            error: IngesterError = Unavailable(f"{source}: no answer within {options.timeout:g} s")
        except httpx.TransportError as exc:
            error = Unavailable(f"{source}: cannot reach the catalogue: {type(exc).__name__}: {exc}")
        else:
            if response.is_success:
                try:
                    return response.json()
                except ValueError:
                    raise Unavailable(f"{source}: the answer is not JSON") from None
            error = http_error(source, response.status_code, response.text)
            if response.status_code not in _RETRIED_STATUSES:
                raise error
        logger.warning("%s: attempt %d failed: %s", source, attempt + 1, error)
    raise error


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
