"""URI-addressed storage of tile layers (spec §7.2) and the file-naming rules (§7.1).

`open_storage(uri, config)` picks the backend from the URI: absolute paths and `file://` URIs are
served by `LocalStorage`; `s3://bucket[/prefix]` and `gs://bucket[/prefix]` by `ObjectStorage` (on
obstore), configured by `ObjectStoreConfig`.
Opening a storage makes no network call: a wrong bucket or credentials show on first use.
"""

from __future__ import annotations

import pathlib
import urllib.parse

from libs.runtime.errors import InvalidArgument
from libs.storage.backend import Storage
from libs.storage.config import ObjectStoreConfig
from libs.storage.durability import DEFAULT_SYNC
from libs.storage.local import LocalStorage
from libs.storage.objectstore import ObjectStorage, parse_location

__all__ = ["LocalStorage", "ObjectStorage", "ObjectStoreConfig", "Storage", "open_storage"]

_SUPPORTED = "absolute path, file://, s3://bucket[/prefix], gs://bucket[/prefix]"


def open_storage(uri: str, config: ObjectStoreConfig | None = None) -> Storage:
    """Storage rooted at `uri`; raises InvalidArgument("storage_uri", …) for an unusable URI.

    `config` holds the object-store settings of the process (default: none set, so s3:// uses the
    AWS default chain and gs:// Google's application default credentials)."""
    if not uri or "\x00" in uri:
        raise InvalidArgument("storage_uri", f"must be one of: {_SUPPORTED}")
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "":
        path = pathlib.Path(uri)
        if not path.is_absolute():
            raise InvalidArgument("storage_uri", f"{uri!r} is not an absolute path")
        return LocalStorage(path, sync=config.storage_sync if config else DEFAULT_SYNC)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidArgument("storage_uri", f"file URI {uri!r} names a remote host {parsed.netloc!r}")
        if parsed.query or parsed.fragment:
            raise InvalidArgument("storage_uri", f"file URI {uri!r} must not have a query or fragment")
        path = pathlib.Path(urllib.parse.unquote(parsed.path))
        if not path.is_absolute():
            raise InvalidArgument("storage_uri", f"file URI {uri!r} has no absolute path")
        return LocalStorage(path, file_uris=True, sync=config.storage_sync if config else DEFAULT_SYNC)
    if parsed.scheme in ("s3", "gs"):
        return ObjectStorage(parse_location(uri, "storage_uri"), config)
    raise InvalidArgument(
        "storage_uri", f"unsupported storage scheme {parsed.scheme!r} in {uri!r} (supported: {_SUPPORTED})"
    )
