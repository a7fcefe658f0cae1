"""Which storage a scene may use: its own `storage_uri` (from the payload) only inside the roots the
worker is configured for — its default storage and the allowed list — so that a payload cannot make a
worker write into `/etc`, another tenant's bucket or anywhere else its permissions reach."""

from __future__ import annotations

import os
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
