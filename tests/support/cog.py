"""A Cloud-Optimized GeoTIFF validator that reads the TIFF structure itself (no GDAL).

It checks the rules GDAL's `validate_cloud_optimized_geotiff.py` documents, so that a COG can be read
with a few HTTP range requests:

* the full-resolution image is tiled when larger than 512 pixels, and so is every overview;
* overviews are internal (no `.ovr` sidecar), and present when the image is larger than one tile
  (a warning, as GDAL has it);
* the IFDs come first: the full resolution's IFD right after the header (and GDAL's "ghost" structural
  metadata when present), then the overviews' in decreasing size, all before any image data;
* image data come last-level first: the smallest overview's tiles, ..., the full resolution's tiles
  last; inside an IFD the tiles of each band are in row-major order;
* when the ghost area declares them, every tile is preceded by its size (BLOCK_LEADER=SIZE_AS_UINT4)
  and followed by a copy of its last 4 bytes (BLOCK_TRAILER=LAST_4_BYTES_REPEATED), and the file must
  not declare KNOWN_INCOMPATIBLE_EDITION=YES (modified after its creation).
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import struct

MIN_TILED_SIZE = 512  # larger images must be tiled and should have overviews (GDAL's threshold)
_GHOST_PREFIX = b"GDAL_STRUCTURAL_METADATA_SIZE="
_GHOST_LINE = len(b"GDAL_STRUCTURAL_METADATA_SIZE=000000 bytes\n")
# TIFF tags and field types used here.
_NEW_SUBFILE_TYPE, _WIDTH, _HEIGHT = 254, 256, 257
_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _PLANAR = 273, 279, 284
_TILE_WIDTH, _TILE_HEIGHT, _TILE_OFFSETS, _TILE_BYTE_COUNTS = 322, 323, 324, 325
_SAMPLES_PER_PIXEL = 277
_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
_TYPE_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


class NotATiff(Exception):
    pass


@dataclasses.dataclass
class Ifd:
    offset: int
    end: int  # first byte after the IFD's entries and out-of-line values
    tags: dict[int, tuple[int, ...]]

    @property
    def width(self) -> int:
        return self.tags[_WIDTH][0]

    @property
    def height(self) -> int:
        return self.tags[_HEIGHT][0]

    @property
    def is_mask(self) -> bool:
        return bool(self.tags.get(_NEW_SUBFILE_TYPE, (0,))[0] & 4)

    @property
    def tiled(self) -> bool:
        return _TILE_WIDTH in self.tags

    @property
    def blocks(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(offsets, byte counts) of the tiles or strips."""
        if self.tiled:
            return self.tags[_TILE_OFFSETS], self.tags[_TILE_BYTE_COUNTS]
        return self.tags[_STRIP_OFFSETS], self.tags[_STRIP_BYTE_COUNTS]

    @property
    def planes(self) -> int:
        separate = self.tags.get(_PLANAR, (1,))[0] == 2
        return self.tags.get(_SAMPLES_PER_PIXEL, (1,))[0] if separate else 1


@dataclasses.dataclass
class Report:
    errors: list[str]
    warnings: list[str]
    ghost: dict[str, str]  # GDAL's structural metadata, empty if absent
    ifds: list[Ifd]  # in file order: full resolution, then overviews (masks left out)

    @property
    def overview_sizes(self) -> list[tuple[int, int]]:
        return [(ifd.width, ifd.height) for ifd in self.ifds[1:]]


class _Reader:
    def __init__(self, data: bytes):
        if data[:2] not in (b"II", b"MM"):
            raise NotATiff("no TIFF byte-order mark")
        self.data = data
        self.endian = "<" if data[:2] == b"II" else ">"
        magic = self.unpack("H", 2)[0]
        if magic not in (42, 43):
            raise NotATiff(f"TIFF magic {magic}")
        self.big = magic == 43
        self.header_size = 16 if self.big else 8

    def unpack(self, fmt: str, offset: int, count: int = 1) -> tuple[int, ...]:
        size = struct.calcsize(self.endian + fmt) * count
        if offset + size > len(self.data):
            raise NotATiff(f"structure at {offset} runs past the end of the file")
        return struct.unpack_from(f"{self.endian}{count}{fmt}", self.data, offset)

    def first_ifd(self) -> int:
        return self.unpack("Q", 8)[0] if self.big else self.unpack("I", 4)[0]

    def ifd(self, offset: int) -> tuple[Ifd, int]:
        """The IFD at `offset` and the offset of the next one (0: none)."""
        count_fmt, entry_size, word = ("Q", 20, "Q") if self.big else ("H", 12, "I")
        (count,) = self.unpack(count_fmt, offset)
        start = offset + (8 if self.big else 2)
        end = start + count * entry_size + (8 if self.big else 4)
        tags: dict[int, tuple[int, ...]] = {}
        for index in range(count):
            entry = start + index * entry_size
            tag, kind = self.unpack("H", entry, 2)
            (n,) = self.unpack(word, entry + 4)
            value_at = entry + (12 if self.big else 8)
            size = _TYPE_SIZES.get(kind, 1) * n
            if size > (8 if self.big else 4):
                (value_at,) = self.unpack(word, value_at)
                end = max(end, value_at + size)
            if kind in _TYPE_FORMATS:
                tags[tag] = self.unpack(_TYPE_FORMATS[kind], value_at, n)
        (next_offset,) = self.unpack(word, start + count * entry_size)
        return Ifd(offset, end, tags), next_offset


def _ghost(reader: _Reader) -> tuple[dict[str, str], int]:
    """GDAL's structural metadata after the header, and where the first IFD must then start."""
    start = reader.header_size
    if not reader.data.startswith(_GHOST_PREFIX, start):
        return {}, start
    size = int(reader.data[start + len(_GHOST_PREFIX) : start + len(_GHOST_PREFIX) + 6])
    text = reader.data[start + _GHOST_LINE : start + _GHOST_LINE + size].decode("ascii", "replace")
    ghost = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    expected = start + _GHOST_LINE + size
    return ghost, expected + expected % 2  # IFDs start on a word boundary


def _check_blocks(reader: _Reader, ifd: Ifd, name: str, ghost: dict[str, str], errors: list[str]) -> None:
    offsets, counts = ifd.blocks
    per_plane = len(offsets) // max(ifd.planes, 1)
    for plane in range(ifd.planes):
        last = 0
        for index in range(plane * per_plane, (plane + 1) * per_plane):
            offset, count = offsets[index], counts[index]
            if offset == 0:  # sparse (never written) block
                continue
            if offset < last:
                errors.append(f"{name}: block {index} offset {offset} is before the previous block's")
                return
            last = offset
            if ghost.get("BLOCK_LEADER") == "SIZE_AS_UINT4":
                (leader,) = struct.unpack_from("<I", reader.data, offset - 4)
                if leader != count:
                    errors.append(f"{name}: block {index} leader says {leader} bytes, not {count}")
                    return
            if ghost.get("BLOCK_TRAILER") == "LAST_4_BYTES_REPEATED" and count >= 4:
                trailer = reader.data[offset + count : offset + count + 4]
                if trailer != reader.data[offset + count - 4 : offset + count]:
                    errors.append(f"{name}: block {index} trailer does not repeat its last 4 bytes")
                    return


def validate(path: str | pathlib.Path) -> Report:
    """Every rule of the module docstring checked on the file at `path`."""
    path = pathlib.Path(path)
    reader = _Reader(path.read_bytes())
    errors: list[str] = []
    warnings: list[str] = []
    ghost, expected_first = _ghost(reader)
    if ghost.get("KNOWN_INCOMPATIBLE_EDITION") == "YES":
        errors.append("KNOWN_INCOMPATIBLE_EDITION=YES: the file was modified after its creation")
    if path.with_name(path.name + ".ovr").exists():
        errors.append("external overviews (.ovr) are not allowed")

    all_ifds: list[Ifd] = []
    offset, seen = reader.first_ifd(), set()
    while offset and offset not in seen:
        seen.add(offset)
        ifd, offset = reader.ifd(offset)
        all_ifds.append(ifd)
    ifds = [ifd for ifd in all_ifds if not ifd.is_mask]
    if not ifds:
        raise NotATiff("no image IFD")
    main = ifds[0]
    report = Report(errors, warnings, ghost, ifds)

    if main.offset != expected_first:
        errors.append(f"the main IFD should be at byte {expected_first}, it is at {main.offset}")
    big = max(main.width, main.height) > MIN_TILED_SIZE
    if big and not main.tiled:
        errors.append(f"the image is larger than {MIN_TILED_SIZE} pixels but not tiled")
    if big and len(ifds) == 1:
        warnings.append(f"the image is larger than {MIN_TILED_SIZE} pixels but has no overviews")
    for previous, ifd in itertools.pairwise(all_ifds):
        if ifd.offset <= previous.offset:
            errors.append(f"IFD at {ifd.offset} comes before the previous IFD (at {previous.offset})")
    for index, (larger, smaller) in enumerate(itertools.pairwise(ifds), start=1):
        if smaller.width >= larger.width or smaller.height >= larger.height:
            errors.append(f"overview {index} is not smaller than the level before it")
    for index, ifd in enumerate(ifds[1:], start=1):
        if max(ifd.width, ifd.height) > MIN_TILED_SIZE and not ifd.tiled:
            errors.append(f"overview {index} is larger than {MIN_TILED_SIZE} pixels but not tiled")

    first_data = min((o for ifd in all_ifds for o in ifd.blocks[0] if o), default=len(reader.data))
    if max(ifd.end for ifd in all_ifds) > first_data:
        errors.append("IFDs are not all before the image data")
    # Data of the smallest overview first, the full resolution last.
    starts = [min((o for o in ifd.blocks[0] if o), default=0) for ifd in ifds]
    for index in range(len(ifds) - 1):
        if starts[index] and starts[index + 1] and starts[index] < starts[index + 1]:
            level = "the full resolution" if index == 0 else f"overview {index}"
            errors.append(f"the data of {level} should come after the data of overview {index + 1}")
    for index, ifd in enumerate(all_ifds):
        _check_blocks(reader, ifd, f"IFD {index}", ghost, errors)
    return report


def assert_cog(path: str | pathlib.Path) -> Report:
    """Fails with every finding unless `path` is a valid COG without warnings."""
    report = validate(path)
    findings = report.errors + report.warnings
    assert not findings, f"{path} is not a valid COG: " + "; ".join(findings)
    return report
