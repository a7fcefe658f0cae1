"""Values PostgreSQL refuses for good: the request's fault, so INVALID_ARGUMENT, never INTERNAL nor
UNAVAILABLE (psycopg classes "program limit exceeded" as an OperationalError, like a lost connection, and
a client told to retry a value that can never be stored retries forever).

The request checks (libs/runtime/request_checks.py) refuse NUL characters before any SQL runs,
naming the field; this is the net for what only the database knows: an index row or a NOTIFY payload
too large for a long name, a number out of a column's range.
"""

from __future__ import annotations

import psycopg

from libs.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    IngesterError,
    InvalidArgument,
    exception_chain,
)


def refused_value(exc: BaseException) -> IngesterError | None:
    for error in exception_chain(exc):
        if isinstance(error, psycopg.errors.ProgramLimitExceeded):
            # Its text names indexes and sizes in bytes: the caller only needs to know what to change.
            return InvalidArgument("request", "a value is too long to be stored (shorten names and ids)")
        if isinstance(error, psycopg.DataError):
            diag = error.diag.message_primary  # None for errors raised by the driver itself
            return InvalidArgument("request", f"a value the database cannot store: {diag or error}")
        # Integrity (23): the request can never succeed as it is either. Not class 42 (syntax, undefined
        # table/column/function): our statements are parameterised, so those are bugs of ours and stay 500.
        if isinstance(error, psycopg.errors.UniqueViolation):
            return AlreadyExists(f"request: a value already stored: {error.diag.message_primary or error}")
        if isinstance(error, psycopg.errors.ForeignKeyViolation):
            return FailedPrecondition(
                f"request: refers to something missing: {error.diag.message_primary or error}"
            )
        if isinstance(error, psycopg.Error) and (error.sqlstate or "")[:2] == "23":
            return InvalidArgument(
                "request", f"a value the database refuses: {error.diag.message_primary or error}"
            )
    return None
