"""The pool's connection check, skipped for a connection back from a caller a moment ago.

Every connection taken from the pool used to be tested with an empty query: after a database restart the
idle connections are all dead, and without the test each would fail one request before the pool dropped
it. But that test is one more round trip for each of the 3-4 checkouts of every task, ~7 % of the
catalogue's CPU during an ingestion (docs/benchmarks.md). A connection a caller gave back less than
RECENT seconds ago was working then; only older ones are tested, which still covers every connection
left idle across an outage (a restart takes longer than that). A connection broken within that window
fails its request with UNAVAILABLE, which callers retry (workers back off and report again).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

RECENT = 1.0  # seconds

_returned: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


async def mark_returned(conn: AsyncConnection[Any]) -> None:
    """The pool's `reset` callback: the connection just came back from a caller, in a usable state."""
    _returned[conn] = time.monotonic()


async def check_unless_recent(conn: AsyncConnection[Any]) -> None:
    """The pool's `check` callback: the empty-query test, unless the connection was returned recently."""
    returned = _returned.get(conn)
    if returned is not None and time.monotonic() - returned < RECENT:
        return
    await AsyncConnectionPool.check_connection(conn)
