"""The contract every storage backend fulfils, and the checks of the keys they receive.

Methods are synchronous and may block (disk or network I/O): async callers run them in a thread
(`asyncio.to_thread`). Keys are relative, `/`-separated paths below the storage root.
"""

from __future__ import annotations

import pathlib
from typing import Protocol

from libs.runtime.errors import InvalidArgument, PermissionDenied


class Storage(Protocol):
    def uri(self, key: str) -> str:
        """Full URI of the object `key` (what the Geocube indexes)."""
        ...

    def put_file(self, local_path: pathlib.Path, key: str) -> str:
        """Uploads a local file as `key`, atomically (readers never see a partial object); returns its URI."""
        ...

    def get_file(self, key: str, local_path: pathlib.Path) -> None:
        """Downloads `key` to `local_path`; raises NotFound(`File not found: <uri>`) when it is missing."""
        ...

    def delete(self, key: str) -> None:
        """Deletes `key`; raises NotFound(`File not found: <uri>`) when it is missing."""
        ...

    def exists(self, key: str) -> bool: ...


def check_key(key: str) -> str:
    """Refuses keys that could leave the storage root (absolute, `..`, `.` or empty segments, NUL, `\\`)."""
    if not key or key.startswith("/") or "\x00" in key or "\\" in key:
        raise InvalidArgument("key", f"invalid storage key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidArgument("key", f"invalid storage key {key!r}")
    return key


class StorageAccessDenied(PermissionDenied):
    """The store refused our credentials or has none for us: retrying cannot help (spec §7.3 "fatal").

    Messages name the bucket or URL and never the credentials."""

    fatal = True
