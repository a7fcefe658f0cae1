"""URI-addressed storage of tile layers (spec §7.2) and the file-naming rules (§7.1).

`open_storage(uri)` picks the backend from the URI: absolute paths and `file://` URIs are served by
`LocalStorage`; object stores (`s3://`, `gs://`) are not available yet.
"""

from __future__ import annotations

import pathlib
import urllib.parse

from services.runtime.errors import InvalidArgument
from services.storage.backend import Storage
from services.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "open_storage"]


def open_storage(uri: str) -> Storage:
    """Storage rooted at `uri`; raises InvalidArgument("storage_uri", …) for an unusable URI."""
    if not uri or "\x00" in uri:
        raise InvalidArgument("storage_uri", "must be an absolute path or a file:// URI")
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "":
        path = pathlib.Path(uri)
        if not path.is_absolute():
            raise InvalidArgument("storage_uri", f"{uri!r} is not an absolute path")
        return LocalStorage(path)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidArgument("storage_uri", f"file URI {uri!r} names a remote host {parsed.netloc!r}")
        if parsed.query or parsed.fragment:
            raise InvalidArgument("storage_uri", f"file URI {uri!r} must not have a query or fragment")
        path = pathlib.Path(urllib.parse.unquote(parsed.path))
        if not path.is_absolute():
            raise InvalidArgument("storage_uri", f"file URI {uri!r} has no absolute path")
        return LocalStorage(path, file_uris=True)
    raise InvalidArgument(
        "storage_uri",
        f"unsupported storage scheme {parsed.scheme!r} in {uri!r} (supported: absolute path, file://)",
    )
