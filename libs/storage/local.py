"""Storage on a local (or mounted) file system: plain absolute paths and `file://` URIs."""

from __future__ import annotations

import os
import pathlib
import shutil
import urllib.parse
import uuid

from libs.runtime.errors import NotFound
from libs.storage.backend import check_key
from libs.storage.durability import DEFAULT_SYNC, Durability, FileSync, NoSync, for_mode

_COPY_CHUNK = 1024 * 1024


def copy_atomically(
    source: pathlib.Path, destination: pathlib.Path, durability: Durability | None = None
) -> None:
    """Streams `source` into a temporary file beside `destination`, then renames it into place.

    The temporary file lives in the destination folder so that os.replace stays a same-filesystem
    rename: a reader (or a crash) sees either the old object or the complete new one, never a prefix.
    `durability` (default: fsync of each file and folder) makes the bytes durable before the rename and
    the new name after it (libs/storage/durability.py).
    """
    durability = durability or FileSync()
    created = _make_folders(destination.parent)
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.partial")
    try:
        with source.open("rb") as src, partial.open("xb") as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)
            dst.flush()
            durability.before_rename(dst.fileno(), destination.parent)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    # The file's data is durable, but its name lives in the folder: without syncing the folder (and the
    # parents of folders made here) a power cut after a DONE report could lose the stored file's entry.
    durability.after_rename([destination.parent, *(path.parent for path in created)])


def _make_folders(folder: pathlib.Path) -> list[pathlib.Path]:
    """mkdir -p that returns the folders it created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
            created.append(path)
        except FileExistsError:  # a concurrent task made it: its own copy syncs the parent
            pass
    return created


class LocalStorage:
    """Objects are files below `root`; `uri()` answers in the form the root was given: a plain path,
    or a `file://` URI (percent-encoded, since aoi names may hold spaces) when `file_uris` is set."""

    def __init__(self, root: pathlib.Path, *, file_uris: bool = False, sync: str = DEFAULT_SYNC):
        self.root = root
        self._file_uris = file_uris
        self._durability = for_mode(sync)  # STORAGE_SYNC (libs/storage/durability.py)
        # "/" as root must not give "//key": the separator is added by uri().
        root_text = "" if str(root) == "/" else str(root)
        self._uri_prefix = f"file://{urllib.parse.quote(root_text)}" if file_uris else root_text

    def __repr__(self) -> str:
        return f"LocalStorage({self.uri_prefix!r})"

    @property
    def uri_prefix(self) -> str:
        return self._uri_prefix or "/"

    def _path(self, key: str) -> pathlib.Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def uri(self, key: str) -> str:
        check_key(key)
        return f"{self._uri_prefix}/{urllib.parse.quote(key) if self._file_uris else key}"

    def put_file(self, local_path: pathlib.Path, key: str) -> str:
        copy_atomically(pathlib.Path(local_path), self._path(key), self._durability)
        return self.uri(key)

    def get_file(self, key: str, local_path: pathlib.Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise NotFound(f"File not found: {self.uri(key)}")
        try:
            # Into a task's working folder: lost with the task in a crash, and the task is redone.
            copy_atomically(source, pathlib.Path(local_path), NoSync())
        except FileNotFoundError as exc:
            # Deleted between the check and the copy, or the local folder vanished.
            if not source.exists():
                raise NotFound(f"File not found: {self.uri(key)}") from exc
            raise

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"File not found: {self.uri(key)}")
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise NotFound(f"File not found: {self.uri(key)}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
