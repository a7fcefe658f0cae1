"""How a job error becomes the result a worker reports (spec §5.11, §7.3).

An error may be *temporary* (transient: the task goes back to the queue unchanged) and/or *fatal*
(never retry). Both flags are read from the whole cause chain, so a low-level error keeps its class
when a job wraps it with the reference's message prefixes (`ProcessScene.`, `ProcessTile[…].`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from collections.abc import Awaitable, Callable, Sequence

import grpc

from libs.domain.models import Status
from libs.runtime import errors
from libs.runtime.errors import exception_chain

# OS errors that say "try again later" rather than "this cannot work" (spec §7.3 rule 1).
_TEMPORARY_ERRNOS = frozenset(
    {errno.EIO, errno.EBUSY, errno.ECANCELED, errno.ECONNABORTED, errno.ECONNRESET, errno.ENOMEM, errno.EPIPE}
)
# gRPC answers of a peer that is down or overloaded: our analogue of the reference's HTTP 429/5xx rule.
_TEMPORARY_GRPC_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    }
)


class JobError(Exception):
    """A job failure with its message (the text reported to the catalogue) and its two flags."""

    def __init__(self, message: str, *, temporary: bool = False, fatal: bool = False):
        super().__init__(message)
        self.message = message
        self.temporary = temporary
        self.fatal = fatal


def error_text(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc) or type(exc).__name__


def is_temporary(exc: BaseException) -> bool:
    """Spec §7.3: OS errors of the transient kind, an explicit mark, an unreachable peer, a timeout or
    a cancellation anywhere in the chain, or `timeout` in the message."""
    for item in exception_chain(exc):
        if isinstance(item, OSError) and item.errno in _TEMPORARY_ERRNOS:
            return True
        if getattr(item, "temporary", False) is True:
            return True
        if isinstance(item, errors.Unavailable):
            return True
        if isinstance(item, grpc.aio.AioRpcError) and item.code() in _TEMPORARY_GRPC_CODES:
            return True
        if isinstance(item, (TimeoutError, asyncio.CancelledError)):
            return True
    return "timeout" in error_text(exc).lower()


def is_fatal(exc: BaseException) -> bool:
    """Fatal only when explicitly marked (a `FATAL ERROR:` step, spec §7.3)."""
    return any(getattr(item, "fatal", False) is True for item in exception_chain(exc))


def wrap(prefix: str, exc: BaseException) -> JobError:
    """`prefix + text of exc`, keeping its flags; raise it `from exc`."""
    return JobError(prefix + error_text(exc), temporary=is_temporary(exc), fatal=is_fatal(exc))


def merge_alternatives(failures: Sequence[BaseException]) -> JobError:
    """Errors of alternatives tried in turn (provider chains), "priority to success" mode: the texts
    joined as `<first>\\n <second>…`, temporary if any of them is (another try may succeed)."""
    return JobError(
        "\n ".join(error_text(exc) for exc in failures),
        temporary=any(is_temporary(exc) for exc in failures),
        fatal=any(is_fatal(exc) for exc in failures),
    )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the worker reports: a status (DONE, RETRY or FAILED) with a message, or `temporary`: the
    task goes back to the queue unchanged (status is then meaningless).

    `after_report` runs once the catalogue has accepted the report, and never otherwise: it is where a
    job destroys what a redo of the task would need (the processor's `to_delete` inputs). A task whose
    lease was lost, or whose worker died before reporting, is done again and must find its inputs."""

    status: Status
    message: str = ""
    temporary: bool = False
    after_report: Callable[[], Awaitable[None]] | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def done(cls) -> Outcome:
        return cls(Status.DONE)


def outcome_for_error(exc: BaseException, *, retriable: bool, honour_fatal: bool) -> Outcome:
    """Spec §5.11: temporary first (it wins over fatal); then RETRY for a retriable item, FAILED
    otherwise. Only the processor honours fatality (`honour_fatal`): the downloader keeps RETRY."""
    message = error_text(exc)
    if is_temporary(exc):
        return Outcome(Status.FAILED, message, temporary=True)
    if retriable and not (honour_fatal and is_fatal(exc)):
        return Outcome(Status.RETRY, message)
    return Outcome(Status.FAILED, message)
