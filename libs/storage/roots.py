"""Which storage a scene may use: its own `storage_uri` (from the payload) only inside the roots the
worker is configured for — its default storage and the allowed list — so that a payload cannot make a
worker write into `/etc`, another tenant's bucket or anywhere else its permissions reach."""

from __future__ import annotations

import asyncio
import os
import threading
import urllib.parse
from collections.abc import Sequence

from libs.runtime.errors import FailedPrecondition
from libs.storage import open_storage
from libs.storage.backend import Storage
from libs.storage.config import ObjectStoreConfig


def _canonical(uri: str) -> tuple[str, str]:
    """(kind, path) with `..`, `.` and repeated slashes resolved, for prefix comparison."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme in ("", "file"):
        path = urllib.parse.unquote(parts.path) if parts.scheme == "file" else uri
        return "file", os.path.normpath(path)
    return parts.scheme.lower(), os.path.normpath("/" + parts.netloc + "/" + urllib.parse.unquote(parts.path))


def within(uri: str, roots: Sequence[str]) -> bool:
    kind, path = _canonical(uri)
    for root in roots:
        root_kind, root_path = _canonical(root)
        if kind == root_kind and (path == root_path or path.startswith(root_path.rstrip("/") + "/")):
            return True
    return False


def open_scene_storage(
    scene_uri: str,
    default_uri: str,
    allowed: Sequence[str] = (),
    config: ObjectStoreConfig | None = None,
    setting: str = "STORAGE_ALLOWED_URIS",
) -> Storage:
    """The storage of a scene: its own URI when it lies inside the default one or an allowed one (a
    fatal error naming `setting` otherwise), else the default."""
    if scene_uri and not within(scene_uri, [default_uri, *allowed]):
        # The roots are not named: the message reaches clients (task messages), the operator knows them.
        raise FailedPrecondition(
            f"storage URI {scene_uri} is outside the storage roots of this worker: allow it with {setting}"
        )
    return open_storage(scene_uri or default_uri, config)


class ScenesStorage:
    """`open_scene_storage` for one worker's settings, with the opened storages kept by URI.

    Opening an object store builds a client (credentials, connection pool); a local root is cheap but
    still cost a thread hop per task. Kept, a scene's storage is found on the event loop; only a URI
    not seen yet (or refused) is opened in a thread. Bounded: URIs come from payloads."""

    _MAX_ENTRIES = 64

    def __init__(
        self,
        default_uri: str,
        allowed: Sequence[str] = (),
        config: ObjectStoreConfig | None = None,
        setting: str = "STORAGE_ALLOWED_URIS",
    ):
        self._default_uri = default_uri
        self._allowed = list(allowed)
        self._config = config
        self._setting = setting
        self._opened: dict[str, Storage] = {}
        self._lock = threading.Lock()

    def open(self, scene_uri: str) -> Storage:
        """Blocking; raises as `open_scene_storage` (refusals are not kept)."""
        storage = self._opened.get(scene_uri)
        if storage is None:
            storage = open_scene_storage(scene_uri, self._default_uri, self._allowed, self._config, self._setting)
            with self._lock:
                if len(self._opened) >= self._MAX_ENTRIES:
                    self._opened.clear()  # rare (many distinct payload URIs): start over
                storage = self._opened.setdefault(scene_uri, storage)
        return storage

    async def get(self, scene_uri: str) -> Storage:
        storage = self._opened.get(scene_uri)
        return storage if storage is not None else await asyncio.to_thread(self.open, scene_uri)
