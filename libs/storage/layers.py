"""Saving, importing and deleting the layers of a tile (spec §7.2).

A layer whose extension names a directory (`SAFE`, `data`), a `.dim` file with its `.data` sibling, or
the whole working directory (`*`) travels as one zip stored as `LayerFileName(tile, layer, "zip")`.
Everything here blocks (zip, copies): async callers run it with `asyncio.to_thread`.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator

from libs.domain.models import Tile
from libs.runtime.errors import InvalidArgument, NotFound
from libs.storage import naming
from libs.storage.backend import Storage

# Temporary names start with a dot and this marker so that a `*` archive never swallows them.
_TEMP_PREFIX = ".geocube-tmp-"


def _sibling_data_dir(dim_path: pathlib.Path) -> pathlib.Path:
    return dim_path.with_name(dim_path.name[: -len(".dim")] + ".data")


def _archive_entries(workdir: pathlib.Path, source: pathlib.Path, ext: str) -> list[pathlib.Path]:
    if ext == "*":
        return sorted(p for p in workdir.iterdir() if not p.name.startswith(_TEMP_PREFIX))
    if not source.exists():
        raise NotFound(f"SaveLayer.Archive: file not found: {source}")
    if ext == "dim":
        data_dir = _sibling_data_dir(source)
        return [source, data_dir] if data_dir.exists() else [source]
    return [source]


def _walk(entry: pathlib.Path) -> Iterator[pathlib.Path]:
    """The entry, then (for a directory) everything below it, directories before their content."""
    yield entry
    if entry.is_dir() and not entry.is_symlink():
        for child in sorted(entry.iterdir()):
            yield from _walk(child)


def _write_zip(zip_path: pathlib.Path, entries: list[pathlib.Path]) -> None:
    # compresslevel=1 is the "best speed" the reference uses: products are already compressed (JP2,
    # zipped SAFE), so stronger levels cost minutes for a few percent.
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry in entries:
            for path in _walk(entry):
                # Each entry keeps its own name at the archive root (directories as top folders).
                archive.write(path, path.relative_to(entry.parent).as_posix())


def save_layer(storage: Storage, workdir: pathlib.Path, tile: Tile, layer: str, ext: str) -> str:
    """Uploads `<workdir>/<LayerFileName(tile, layer, ext)>` (zipped when needed); returns its URI."""
    workdir = pathlib.Path(workdir)
    file_name = naming.layer_file_name(tile, layer, ext)
    key = naming.object_key(tile, naming.stored_file_name(tile, layer, ext))
    source = workdir / file_name
    if not naming.is_zip_stored(ext):
        if not source.is_file():
            raise NotFound(f"SaveLayer.Open: file not found: {source}")
        return storage.put_file(source, key)
    entries = _archive_entries(workdir, source, ext)
    zip_path = workdir / f"{_TEMP_PREFIX}{uuid.uuid4().hex}.zip"
    try:
        _write_zip(zip_path, entries)
        return storage.put_file(zip_path, key)
    finally:
        zip_path.unlink(missing_ok=True)


def _extract_safely(archive: zipfile.ZipFile, destination: pathlib.Path, uri: str) -> None:
    """Extracts every member below `destination`, refusing names that would land outside (zip-slip)."""
    root = destination.resolve()
    for member in archive.infolist():
        name = member.filename.replace("\\", "/")
        parts = name.split("/")
        target = root.joinpath(*parts).resolve()
        if name.startswith("/") or ".." in parts or "\x00" in name or not target.is_relative_to(root):
            raise InvalidArgument(
                "archive", f"{uri}: entry {member.filename!r} escapes the extraction folder"
            )
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Members are always written as plain files: a symlink stored in the archive cannot point out.
        with archive.open(member) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)


def _replace(source: pathlib.Path, destination: pathlib.Path) -> None:
    """Moves `source` to `destination`, replacing what is there (unzipping may overwrite, §7.2)."""
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    elif destination.exists() or destination.is_symlink():
        destination.unlink()
    os.replace(source, destination)


def import_layer(storage: Storage, workdir: pathlib.Path, tile: Tile, layer: str, ext: str) -> pathlib.Path:
    """Downloads a layer into `workdir` (unzipping zip-stored extensions); returns the local path.

    After unzipping, the entry named `LayerFileName(tile, layer, ext)` (plus the `.data` sibling of a
    `.dim`) is moved into the workdir; an archive without that entry becomes that folder as a whole.
    """
    workdir = pathlib.Path(workdir)
    file_name = naming.layer_file_name(tile, layer, ext)
    key = naming.object_key(tile, naming.stored_file_name(tile, layer, ext))
    if not naming.is_zip_stored(ext):
        storage.get_file(key, workdir / file_name)
        return workdir / file_name
    zip_path = workdir / f"{_TEMP_PREFIX}{uuid.uuid4().hex}.zip"
    unzip_dir = pathlib.Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=workdir))
    unzip_dir.chmod(0o755)  # mkdtemp makes it 0700, and it may become the imported folder itself
    target = workdir / file_name
    try:
        storage.get_file(key, zip_path)
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _extract_safely(archive, unzip_dir, storage.uri(key))
        except zipfile.BadZipFile as exc:
            raise InvalidArgument("archive", f"{storage.uri(key)}: not a valid zip ({exc})") from exc
        expected = unzip_dir / file_name
        if expected.exists():
            _replace(expected, target)
            if ext == "dim" and _sibling_data_dir(expected).exists():
                _replace(_sibling_data_dir(expected), _sibling_data_dir(target))
        else:
            _replace(unzip_dir, target)
    finally:
        zip_path.unlink(missing_ok=True)
        shutil.rmtree(unzip_dir, ignore_errors=True)
    return target


def delete_layer(storage: Storage, tile: Tile, layer: str, ext: str) -> None:
    """Deletes the stored object of a layer; raises NotFound(`File not found: <uri>`) when missing."""
    storage.delete(naming.object_key(tile, naming.stored_file_name(tile, layer, ext)))
