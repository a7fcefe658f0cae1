"""Database errors that escape a servicer, by SQLSTATE: an outage is UNAVAILABLE (retry later), a value
the database refuses is the caller's error (INVALID_ARGUMENT and kin), anything else stays a bug.

psycopg files several permanent conditions under OperationalError (54 program limit exceeded: a 3 MB
name in an index; 40 and 55 as well), so the class of the exception is not enough: the SQLSTATE class
decides. Telling a client to retry a request that can never succeed makes it retry forever.
"""

from __future__ import annotations

import psycopg

from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    IngesterError,
    InvalidArgument,
    Unavailable,
    exception_chain,
)

# SQLSTATE classes of conditions that pass: connection (08), rollback for serialization or deadlock (40),
# insufficient resources (53), lock not available / object in use (55), operator intervention (57:
# shutdown, cannot connect now, statement cancelled), system error (58).
_TRANSIENT = {"08", "40", "53", "55", "57", "58"}
# Classes of a value the database refuses: data exception (22), integrity (23), syntax or access rule
# (42, e.g. a name too long), program limit exceeded (54, e.g. an index row or NOTIFY payload too large).
_REFUSED = {"22", "23", "42", "54"}
_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"


def translate(exc: Exception) -> IngesterError | None:
    """The domain error for a driver error, None for anything that is a bug. The driver's text may name
    hosts: an outage answers a fixed text (the details are only logged)."""
    found = next((e for e in exception_chain(exc) if isinstance(e, psycopg.Error)), None)
    if found is None:
        return None
    exc = found
    sqlstate = exc.sqlstate or ""
    if not sqlstate:
        # No answer from a server: connection refused or lost, pool timeout.
        return (
            Unavailable("database unavailable, retry later")
            if isinstance(exc, psycopg.OperationalError)
            else None
        )
    category = sqlstate[:2]
    if category in _TRANSIENT:
        return Unavailable("database unavailable, retry later")
    if category not in _REFUSED:
        return None
    reason = (
        f"refused by the database: {exc.diag.message_primary or type(exc).__name__} (SQLSTATE {sqlstate})"
    )
    if sqlstate == _UNIQUE_VIOLATION:
        return AlreadyExists(reason)
    if sqlstate == _FOREIGN_KEY_VIOLATION:
        return FailedPrecondition(reason)
    return InvalidArgument("", reason)
