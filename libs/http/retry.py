"""The one retry policy of outbound HTTP: urllib3's `Retry`, mounted in the session's adapters.

Every caller describes its retries with a `RetryPolicy` and gets them done by urllib3 inside
`session.request`: no caller loops on a status or sleeps by itself. The three uses:

* catalogue searches (CDSE OData, STAC APIs): network errors, timeouts and the transient statuses are
  retried `attempts` times, POST included, waiting `backoff * (2**n - 1)` before retry n (b, 3b, 7b… as
  the reference); `Retry-After` is not honoured there (a search must not hang on a remote's
  `Retry-After: 3600`: the next source serves instead).
* downloads: only 429/503 carrying a `Retry-After` of at most `longest_wait` seconds are retried
  (waiting what they ask, on the task's cancel event); network errors and other statuses fail at once
  (the task goes back to the queue). A body broken mid-way is resumed by the transfer itself, with
  `RetryPolicy.delay` between attempts.
* everything else (token endpoints, ranged reads, the STAC publisher): no retry.

urllib3 itself waits 0, 2b, 4b… and clamps a long Retry-After instead of refusing it; `Retry` below keeps
the reference's waits and refuses (returns the answer as it is) a Retry-After longer than allowed.
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Callable
from itertools import takewhile
from typing import Any, Self

import urllib3
from urllib3.exceptions import MaxRetryError, ResponseError

from libs.http.errors import RETRIED_STATUSES


def backoff_delay(backoff: float, retry: int) -> float:
    """Seconds to wait before retry number `retry` (1, 2, …): b, 3b, 7b…"""
    return backoff * (2**retry - 1)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked by a `Retry-After` value (delta-seconds or HTTP date), None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """What is retried and how long to wait. `attempts` = retries after the first try."""

    attempts: int = 0
    backoff: float = 1.0
    # Statuses retried whatever the answer says (with `backoff`); empty: only Retry-After answers.
    statuses: frozenset[int] = RETRIED_STATUSES
    # Also retry connection errors and read timeouts (before the headers).
    network: bool = True
    # Retry 429/503 that carry a Retry-After of at most `longest_wait` seconds, waiting what they ask.
    retry_after: bool = False
    longest_wait: float = 120.0

    def delay(self, retry: int) -> float:
        return backoff_delay(self.backoff, retry)

    def urllib3_retry(self, wait: Callable[[float], None] = time.sleep) -> Retry:
        """The urllib3 `Retry` doing this policy; `wait(seconds)` sleeps (a cancellable wait may raise)."""
        network = None if self.network else 0  # None: bounded by `total`
        return Retry(
            total=self.attempts,
            connect=network,
            read=network,
            other=network,
            redirect=None,  # requests follows redirects itself (libs.http.client)
            status=self.attempts,
            status_forcelist=sorted(self.statuses),
            allowed_methods=None,  # POST searches too: they only read
            backoff_factor=self.backoff,
            raise_on_status=False,  # the last answer comes back: its status goes through the error table
            respect_retry_after_header=self.retry_after,
            wait=wait,
            longest_wait=self.longest_wait,
        )


# Token endpoints, ranged reads, the STAC publisher: a failure is reported at once (their callers retry
# the whole operation later: the task queue, the annotation lookup's client, the processor's retries).
NONE = RetryPolicy(attempts=0)


class Retry(urllib3.Retry):
    """urllib3's Retry with the reference's waits, a cancellable `wait` and a ceiling on Retry-After."""

    def __init__(
        self,
        *args: Any,
        wait: Callable[[float], None] = time.sleep,
        longest_wait: float = 120.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.wait = wait
        self.longest_wait = longest_wait

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.wait, retry.longest_wait = self.wait, self.longest_wait
        return retry

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Self:
        response = kwargs.get("response")
        if (
            response is not None
            and self.respect_retry_after_header
            and response.status not in self.status_forcelist
        ):
            # Retried for its Retry-After only: an unreadable or too long one is not waited for; the answer
            # comes back as it is (raise_on_status=False turns this into "return the response").
            seconds = retry_after_seconds(response.headers.get("Retry-After"))
            if seconds is None or seconds > self.longest_wait:
                pool: Any = kwargs.get("_pool")
                raise MaxRetryError(pool, url or "", ResponseError("Retry-After not waited for"))
        return super().increment(method, url, *args, **kwargs)

    def get_backoff_time(self) -> float:
        # The last run of errors, redirects excluded, as urllib3 counts them.
        errors = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        return backoff_delay(self.backoff_factor, errors)

    def sleep(self, response: Any = None) -> None:
        if self.respect_retry_after_header and response is not None:
            seconds = retry_after_seconds(response.headers.get("Retry-After"))
            if seconds is not None:
                self.wait(seconds)
                return
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.wait(backoff)
