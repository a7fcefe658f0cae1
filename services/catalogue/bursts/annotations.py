"""Where a scene's annotation XML files are, and reading them (spec sentinel1-bursts.md §1.1).

A URL pattern (`{SCENE}`, `{YEAR}`… from products.product_info, plus `{AREA}`) names either an unzipped
`.SAFE` folder (or any folder above it) or a zip of the product. Patterns are tried in order and the first
that yields annotation files wins. Only `annotation/s1*.xml` members are read: calibration, noise and rfi
files live one folder deeper and are excluded, and a zip is never extracted whole.
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
import zipfile
from collections.abc import Sequence
from pathlib import Path

from services.domain import products
from services.runtime.errors import InvalidArgument, NotFound

FIELD = "annotations_urls"


@dataclasses.dataclass(frozen=True)
class AnnotationFiles:
    location: str  # the expanded URL that answered
    files: list[tuple[str, bytes]]  # (member or file path, content), sorted by path for determinism


class _Unsupported(Exception):
    pass


def _member_pattern(scene_id: str) -> re.Pattern[str]:
    # The reference's `<SCENE>.SAFE/annotation/s1[^/]*xml`, with the scene id escaped and the end
    # anchored (a `.xml.bak` or `…xml.tmp` file is not an annotation).
    return re.compile(re.escape(scene_id) + r"\.SAFE/annotation/s1[^/]*xml$")


def expand(pattern: str, scene_id: str, area_name: str) -> str:
    return products.format_brackets(pattern, products.product_info(scene_id), {"AREA": area_name})


def read_annotations(scene_id: str, area_name: str, patterns: Sequence[str]) -> AnnotationFiles:
    """The annotation files of `scene_id` from the first pattern that has them.

    Raises NotFound naming the scene and every place tried (with why each failed), or InvalidArgument
    when some place uses a scheme we cannot read yet and none of the others had the files.
    """
    if not patterns:
        raise InvalidArgument(FIELD, "burst tiling needs at least one annotations URL pattern (none given)")
    tried: list[str] = []
    unsupported = False
    for pattern in patterns:
        try:
            location = expand(pattern, scene_id, area_name)
        except products.ProductIdError as err:
            raise InvalidArgument("scenes", str(err)) from None
        try:
            files = _read_location(location, scene_id)
        except _Unsupported as err:
            unsupported = True
            tried.append(f"{location} ({err})")
            continue
        except (OSError, zipfile.BadZipFile) as err:
            tried.append(f"{location} ({err.__class__.__name__}: {err})")
            continue
        if files:
            return AnnotationFiles(location, sorted(files))
        tried.append(f"{location} (no {scene_id}.SAFE/annotation/s1*.xml inside)")
    message = f"annotation files of scene {scene_id} not found; tried: " + "; ".join(tried)
    if unsupported:
        raise InvalidArgument(FIELD, message)
    raise NotFound(message)


def _read_location(location: str, scene_id: str) -> list[tuple[str, bytes]]:
    parts = urllib.parse.urlsplit(location)
    if parts.scheme == "file":
        # Unlike the reference (which opens "file:///x" literally and fails), honour file:// URLs.
        path = urllib.parse.unquote(parts.path)
    elif parts.scheme == "":
        path = location
    else:
        raise _Unsupported(f"not supported yet: {parts.scheme}")
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
