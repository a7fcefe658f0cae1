"""Where a scene's annotation XML files are, and reading them (spec sentinel1-bursts.md §1.1).

A URL pattern (`{SCENE}`, `{YEAR}`… from products.product_info, plus `{AREA}`) names either an unzipped
`.SAFE` folder (or any folder above it) or a zip of the product. Patterns are tried in order and the first
that yields annotation files wins. Only `annotation/s1*.xml` members are read: calibration, noise and rfi
files live one folder deeper and are excluded, and a zip is never extracted whole.

Remote places (http(s)://, s3://, gs://) are read with ranged requests (libs/storage/ranged.py): a zip
costs its central directory and the annotation members, not the product's gigabytes. A remote `.SAFE`
folder (a URL ending in `.SAFE`, `.SAFE/` or `manifest.safe`) cannot be listed, so its `manifest.safe`
says which files are the annotations (repID `s1Level1ProductSchema`, as the reference's old Creodias
provider did) and each is fetched and checked against the manifest's MD5.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import urllib.parse
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from libs.http import origins
from libs.domain import products
from libs.runtime.errors import IngesterError, InvalidArgument, NotFound, Unavailable
from libs.storage.config import ObjectStoreConfig
from libs.storage.ranged import open_ranged

FIELD = "annotations_urls"


@dataclasses.dataclass(frozen=True)
class AnnotationFiles:
    location: str  # the expanded URL that answered
    files: list[tuple[str, bytes]]  # (member or file path, content), sorted by path for determinism


@dataclasses.dataclass(frozen=True)
class RemoteAccess:
    """How remote annotation places are reached: object-store settings and an optional bearer token for
    HTTP(S), both from the catalogue's settings (never from payloads).

    The catalogue's credentials must not go wherever a payload points, nor may a payload make the
    catalogue fetch internal URLs: remote places are read only from the catalogue's own patterns
    (`trusted`) or, for a payload's patterns, from the origins in `allowed_origins` (`https://host[:port]`,
    `s3://bucket`, `gs://bucket`) and those of the trusted patterns. Local paths are not restricted (the
    reference's behaviour; only annotation members are ever read)."""

    store: ObjectStoreConfig = dataclasses.field(default_factory=ObjectStoreConfig)
    bearer_token: str = dataclasses.field(default="", repr=False)
    timeout: float = 60.0
    trusted: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    def allows(self, pattern: str, location: str) -> bool:
        if pattern in self.trusted:
            return True
        origin = origin_of(location)
        allowed = {origin_of(o) for o in self.allowed_origins} | {origin_of(p) for p in self.trusted}
        return origin in allowed


def origin_of(url: str) -> str:
    """`scheme://host:port` (default port written out) or `scheme://bucket` of a URL, lower-cased; "" for
    a local path (libs.http.origins.place: the downloader's links are checked alike)."""
    return origins.place(url)


REMOTE_SCHEMES = ("http", "https", "s3", "gs")


class _Unsupported(Exception):
    pass


class _Transient(Exception):
    """A remote place that may answer later (5xx, timeout): reported as Unavailable if nothing answers."""


def _member_pattern(scene_id: str) -> re.Pattern[str]:
    # The reference's `<SCENE>.SAFE/annotation/s1[^/]*xml`, with the scene id escaped and the end
    # anchored (a `.xml.bak` or `…xml.tmp` file is not an annotation).
    return re.compile(re.escape(scene_id) + r"\.SAFE/annotation/s1[^/]*xml$")


def expand(pattern: str, scene_id: str, area_name: str) -> str:
    return products.format_brackets(pattern, products.product_info(scene_id), {"AREA": area_name})


def read_annotations(
    scene_id: str, area_name: str, patterns: Sequence[str], access: RemoteAccess | None = None
) -> AnnotationFiles:
    """The annotation files of `scene_id` from the first pattern that has them.

    Raises NotFound naming the scene and every place tried (with why each failed), Unavailable when a
    remote place failed in a way that may pass (so the client retries), or InvalidArgument when some
    place is unusable (unknown scheme, relative path) and none of the others had the files.
    """
    if not patterns:
        raise InvalidArgument(FIELD, "burst tiling needs at least one annotations URL pattern (none given)")
    tried: list[str] = []
    unsupported = transient = False
    for pattern in patterns:
        try:
            location = expand(pattern, scene_id, area_name)
        except products.ProductIdError as err:
            raise InvalidArgument("scenes", str(err)) from None
        try:
            files = _read_location(pattern, location, scene_id, access or RemoteAccess())
        except _Unsupported as err:
            unsupported = True
            tried.append(f"{location} ({err})")
            continue
        except _Transient as err:
            transient = True
            tried.append(f"{location} ({err})")
            continue
        except (OSError, zipfile.BadZipFile) as err:
            tried.append(f"{location} ({err.__class__.__name__}: {err})")
            continue
        if files:
            return AnnotationFiles(location, sorted(files))
        tried.append(f"{location} (no {scene_id}.SAFE/annotation/s1*.xml inside)")
    message = f"annotation files of scene {scene_id} not found; tried: " + "; ".join(tried)
    if transient:
        raise Unavailable(message)
    if unsupported:
        raise InvalidArgument(FIELD, message)
    raise NotFound(message)


def _read_location(
    pattern: str, location: str, scene_id: str, access: RemoteAccess
) -> list[tuple[str, bytes]]:
    parts = urllib.parse.urlsplit(location)
    if parts.scheme == "file":
        # Unlike the reference (which opens "file:///x" literally and fails), honour file:// URLs.
        path = urllib.parse.unquote(parts.path)
    elif parts.scheme == "":
        path = location
    elif parts.scheme in REMOTE_SCHEMES:
        if not access.allows(pattern, location):
            raise _Unsupported(
                f"{origin_of(location)} is not an annotation place of this catalogue: allow it with"
                " GEOCUBE_CATALOGUE_ANNOTATIONS_ALLOWED_ORIGINS"
            )
        return _read_remote(location, scene_id, access)
    else:
        raise _Unsupported(
            f"unsupported scheme {parts.scheme!r}: use a path, file://, http(s)://, s3:// or gs://"
        )
    if not os.path.isabs(path):
        raise _Unsupported("not an absolute path")
    members = _member_pattern(scene_id)
    if os.path.isdir(path):
        return _read_folder(Path(path), scene_id, members)
    if not os.path.exists(path):
        raise FileNotFoundError("no such file or folder")
    return _read_zip(path, members)


def _read_folder(folder: Path, scene_id: str, members: re.Pattern[str]) -> list[tuple[str, bytes]]:
    # Look where the files should be before walking a whole archive folder (the reference always walks).
    for candidate in (folder / "annotation", folder / f"{scene_id}.SAFE" / "annotation"):
        if candidate.is_dir():
            found = [(str(p), p.read_bytes()) for p in candidate.iterdir() if members.search(p.as_posix())]
            if found:
                return found
    found = []
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            full = Path(dirpath, name)
            if members.search(full.as_posix()):
                found.append((str(full), full.read_bytes()))
    return found


def _read_zip(path: str, members: re.Pattern[str]) -> list[tuple[str, bytes]]:
    # ZipFile reads the central directory then seeks to each member: nothing else is decompressed.
    with zipfile.ZipFile(path) as archive:
        return [
            (info.filename, archive.read(info))
            for info in archive.infolist()
            if members.search(info.filename)
        ]


def _read_remote(location: str, scene_id: str, access: RemoteAccess) -> list[tuple[str, bytes]]:
    try:
        if location.rstrip("/").endswith((".SAFE", "manifest.safe")):
            return _read_remote_safe(location, scene_id, access)
        with _open(location, access) as remote, zipfile.ZipFile(remote) as archive:
            members = _member_pattern(scene_id)
            return [(i.filename, archive.read(i)) for i in archive.infolist() if members.search(i.filename)]
    except Unavailable as err:
        raise _Transient(str(err)) from None
    except InvalidArgument as err:
        raise _Unsupported(err.reason) from None
    except IngesterError as err:  # NotFound, access denied: this place does not have it
        raise OSError(str(err)) from None


def _open(location: str, access: RemoteAccess) -> IO[bytes]:
    return open_ranged(
        location, access.store, bearer_token=access.bearer_token or None, timeout=access.timeout
    )


def _read_remote_safe(location: str, scene_id: str, access: RemoteAccess) -> list[tuple[str, bytes]]:
    base = location.rstrip("/")
    manifest_url = base if base.endswith("manifest.safe") else base + "/manifest.safe"
    folder = manifest_url.removesuffix("manifest.safe")
    with _open(manifest_url, access) as remote:
        manifest = remote.read()
    found = []
    for href, md5 in _manifest_annotations(manifest, manifest_url):
        relative = href.removeprefix("./")
        # The manifest is remote input: an href must stay inside the product folder.
        if relative.startswith("/") or ".." in relative.split("/") or "://" in relative:
            raise zipfile.BadZipFile(f"{manifest_url}: refusing annotation href {href!r}")
        with _open(folder + relative, access) as remote:
            data = remote.read()
        if md5 and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5.lower():
            raise _Transient(f"{folder + relative}: MD5 differs from the manifest's (truncated transfer?)")
        name = f"{scene_id}.SAFE/{relative}"
        if _member_pattern(scene_id).search(name):
            found.append((name, data))
    return found


def _manifest_annotations(manifest: bytes, url: str) -> list[tuple[str, str]]:
    """(href, md5) of the product annotation files a SAFE manifest lists."""
    try:
        root = ElementTree.fromstring(manifest)
    except ElementTree.ParseError as err:
        raise zipfile.BadZipFile(f"{url}: not a SAFE manifest ({err})") from None
    listed = []
    for obj in root.iter("dataObject"):
        if obj.get("repID") != "s1Level1ProductSchema":
            continue
        location = obj.find("byteStream/fileLocation")
        checksum = obj.find("byteStream/checksum")
        if location is not None and location.get("href"):
            listed.append(
                (location.get("href", ""), (checksum.text or "").strip() if checksum is not None else "")
            )
    return listed
