"""The local-directory provider (spec §8.2 row 1): products lying in a folder, e.g. the local archive's.

Lookup order for a scene id:
1. the reference's paths: `<root>/<YYYY>/<MM>/<DD>/<id>.zip` (date from the id) and `<root>/<id>.zip`
   (the only one the reference tries when the id carries no date, e.g. legacy Sentinel-2 names);
2. anywhere under root, as the local archive indexes them: `<id>.zip`, `<id>.SAFE.zip`, an unzipped
   `<id>.SAFE` folder, a Landsat `<id>/` folder holding `<id>_MTL.*`.

A zip is unarchived so the workdir holds its top-level entries (`<id>.SAFE/…`); a folder is copied (never
moved nor linked: scene graphs delete their inputs). Copies stream, nothing is held in memory.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable

from libs.domain import products
from services.downloader.providers.product import Cancelled, ProductRequest
from libs.runtime.errors import FailedPrecondition, NotFound

logger = logging.getLogger(__name__)

_COPY_BUFFER = 1 << 20


class DamagedArchive(FailedPrecondition):
    """A zip that cannot be read (bad central directory, CRC or deflate stream). A downloaded one was
    damaged on the way, which a later attempt may not be (transfer.unpack makes it transient); an unsafe
    or empty zip is not damaged but wrong, and stays a plain FailedPrecondition."""


class LocalProvider:
    name = "LocalImageProvider"

    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root).absolute()

    def fetch(self, product: ProductRequest | str, workdir: pathlib.Path) -> None:
        # A bare scene id is accepted too: the local archive needs nothing else.
        scene_source_id = product if isinstance(product, str) else product.source_id
        source = self.locate(scene_source_id)
        logger.info("local provider: %s from %s", scene_source_id, source)
        workdir.mkdir(parents=True, exist_ok=True)
        cancel = None if isinstance(product, str) else product.cancel
        if source.is_dir():
            copy_folder(source, workdir / source.name, cancel)
        else:
            unarchive(source, workdir, cancel)

    def locate(self, scene_source_id: str) -> pathlib.Path:
        """Path of the product; NotFound naming every place looked at when it is nowhere."""
        if not scene_source_id or "/" in scene_source_id or scene_source_id in (".", ".."):
            raise NotFound(f"Product not found or unavailable: invalid scene id {scene_source_id!r}")
        expected = []
        try:
            day = products.date_from_product_id(scene_source_id)
            expected.append(self.root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{scene_source_id}.zip")
        except products.ProductIdError as exc:
            if products.constellation_from_product_id(scene_source_id) is products.Constellation.UNKNOWN:
                raise NotFound(f"LocalImageProvider: {exc}") from exc
        except ValueError:
            pass  # no date in the id: only the flat path, as the reference
        expected.append(self.root / f"{scene_source_id}.zip")
        for path in expected:
            if path.is_file():
                return path
        found = self._search(scene_source_id)
        if found is not None:
            return found
        names = f"{scene_source_id}{{.zip,.SAFE.zip,.SAFE,/}}"
        tried = [*map(str, expected), f"{self.root}/**/{names}"]
        raise NotFound(f"Product not found or unavailable: {', '.join(tried)}")

    def _search(self, source_id: str) -> pathlib.Path | None:
        files = {f"{source_id}.zip", f"{source_id}.SAFE.zip"}
        folders = {f"{source_id}.SAFE", source_id}
        for folder, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            here = pathlib.Path(folder)
            for name in sorted(files.intersection(filenames)):
                return here / name
            for name in sorted(folders.intersection(dirnames)):
                candidate = here / name
                if name.endswith(".SAFE") or _is_landsat_folder(candidate, source_id):
                    return candidate
            # Products are leaves: never walk into a product folder.
            dirnames[:] = [d for d in dirnames if not d.endswith(".SAFE")]
        return None


def _is_landsat_folder(folder: pathlib.Path, source_id: str) -> bool:
    return any((folder / f"{source_id}_MTL{ext}").is_file() for ext in (".xml", ".txt"))


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _check(cancel: threading.Event | None, what: object) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"copy of {what}: cancelled")


def copy_folder(
    source: pathlib.Path,
    target: pathlib.Path,
    cancel: threading.Event | None = None,
    copy_file: Callable[[str, str], object] = shutil.copy2,
) -> None:
    """Copies a product folder to `target` (replaced), file by file, stopping when `cancel` is set.
    `copy_file(src, dst)` copies one file (the link provider's checks where a file may come from)."""
    _remove(target)

    def copy(src: str, dst: str) -> object:
        _check(cancel, source)
        return copy_file(src, dst)

    try:
        # copytree gathers the OSErrors of single files; other errors (cancelled, refused) stop it at once.
        shutil.copytree(source, target, copy_function=copy)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def unarchive(
    archive_path: pathlib.Path, workdir: pathlib.Path, cancel: threading.Event | None = None
) -> None:
    """Extract a zip so its top-level entries land in workdir (the reference's Unarchive).

    Extracts into a temporary folder of the workdir first (same filesystem: the final moves are renames,
    and a failure leaves no half product), refusing entries that would escape it (zip slip). Stops with
    Cancelled between entries and chunks once `cancel` is set. An unreadable zip raises DamagedArchive;
    an empty one or one with an unsafe entry FailedPrecondition.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".unarchive-", dir=workdir))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                members = archive.infolist()
                if not members:
                    raise FailedPrecondition(f"empty zip: {archive_path}")
                for member in members:
                    _check(cancel, archive_path)
                    _extract(archive, member, staging, cancel)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            # BadZipFile also covers a CRC mismatch found while reading an entry.
            raise DamagedArchive(f"unarchive {archive_path}: {exc}") from exc
        for entry in staging.iterdir():
            target = workdir / entry.name
            _remove(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, staging: pathlib.Path, cancel: threading.Event | None
) -> None:
    name = member.filename.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise FailedPrecondition(f"unsafe path in zip: {member.filename!r}")
    if not parts:
        return
    # The checks above suffice: staging is a fresh folder and zipfile never writes symlinks, so no name
    # without `..`, root or drive can leave it (resolving every member cost ~3 ms per product).
    target = staging.joinpath(*parts)
    if member.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(member) as source, open(target, "wb") as destination:
        while chunk := source.read(_COPY_BUFFER):
            destination.write(chunk)
            _check(cancel, member.filename)
