"""Constellations and product identifiers (spec §1.3) and the AutoFill tags (spec §3.1).

Everything here works on the product *name* only: which constellation a name belongs to, the fields that
can be sliced out of it (`product_info`, used for `{KEY}` placeholders in URL patterns, for dates and for
Landsat paths) and the tags every catalogue adds from it. Slices and error texts are the reference's,
character for character, because clients build URL templates and match error messages on them.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping


class Constellation(str, enum.Enum):
    """Values are the reference's enum names (they appear in error texts and OneAtlas requests)."""

    UNKNOWN = "Unknown"
    SENTINEL1 = "Sentinel1"
    SENTINEL2 = "Sentinel2"
    PHR = "PHR"
    SPOT = "SPOT"
    LANDSAT89 = "Landsat89"


class ProductIdError(ValueError):
    """A product name `product_info` cannot slice; `str(err)` is the reference's exact text."""


_USER_NAMES = {
    "sentinel1": Constellation.SENTINEL1,
    "sentinel-1": Constellation.SENTINEL1,
    "sentinel2": Constellation.SENTINEL2,
    "sentinel-2": Constellation.SENTINEL2,
    "landsat89": Constellation.LANDSAT89,
    "phr": Constellation.PHR,
    "pleiades": Constellation.PHR,
    "spot": Constellation.SPOT,
}

_LANDSAT89 = re.compile(r"^L[OTC]0[89]")


def constellation_from_product_id(name: str) -> Constellation:
    """Prefix rules, case-sensitive, in the reference's order."""
    if name.startswith("S1"):
        return Constellation.SENTINEL1
    if name.startswith("S2"):
        return Constellation.SENTINEL2
    if name.startswith("DS_PHR"):
        return Constellation.PHR
    if name.startswith("DS_SPOT"):
        return Constellation.SPOT
    if _LANDSAT89.match(name):
        return Constellation.LANDSAT89
    return Constellation.UNKNOWN


def parse_constellation(value: str) -> Constellation:
    """The payload's `scene_type.constellation`: a known name (any case), else the product-id rules
    applied to the *original* text (so "S2", "LC08" work but "landsat" does not)."""
    known = _USER_NAMES.get(value.lower())
    if known is not None:
        return known
    return constellation_from_product_id(value)


def _slices(name: str, spec: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    return {key: name[start:end] for key, (start, end) in spec.items()}


_DATE_TIME_S1 = {
    "DATE": (17, 25), "YEAR": (17, 21), "MONTH": (21, 23), "DAY": (23, 25),
    "TIME": (26, 32), "HOUR": (26, 28), "MINUTE": (28, 30), "SECOND": (30, 32),
}  # fmt: skip
_S1 = {
    "MISSION_ID": (0, 3), "MISSION_VERSION": (2, 3), "MODE": (4, 6), "PRODUCT_TYPE": (7, 10),
    "RESOLUTION": (10, 11), "PROCESSING_LEVEL": (12, 13), "PRODUCT_CLASS": (13, 14),
    "POLARISATION": (14, 16), **_DATE_TIME_S1,
    "ORBIT": (49, 55), "MISSION": (56, 62), "UNIQUE_ID": (63, 67),
}  # fmt: skip
_S2 = {
    "MISSION_ID": (0, 3), "MISSION_VERSION": (2, 3), "PRODUCT_LEVEL": (7, 10),
    "DATE": (11, 19), "YEAR": (11, 15), "MONTH": (15, 17), "DAY": (17, 19),
    "TIME": (20, 26), "HOUR": (20, 22), "MINUTE": (22, 24), "SECOND": (24, 26),
    "PDGS": (28, 32), "ORBIT": (34, 37), "TILE": (38, 44), "LATITUDE_BAND": (39, 41),
    "GRID_SQUARE": (41, 42), "GRANULE_ID": (42, 44), "PRODUCT_DISC": (45, 60),
}  # fmt: skip
_S2_LEGACY = {"MISSION_ID": (0, 3), "PRODUCT_LEVEL": (16, 19), "ORBIT": (42, 45)}
_DATE_TIME_AIRBUS = {
    "DATE": (9, 23), "YEAR": (9, 13), "MONTH": (13, 15), "DAY": (15, 17),
    "TIME": (17, 23), "HOUR": (17, 19), "MINUTE": (19, 21), "SECOND": (21, 23),
}  # fmt: skip
_PHR = {
    "MISSION_ID": (3, 8), **_DATE_TIME_AIRBUS, "MODE": (29, 31), "LONGITUDE": (32, 36),
    "LATITUDE": (36, 39), "LONGITUDE_STEP": (40, 42), "LATITUDE_STEP": (42, 44),
}  # fmt: skip
_SPOT = {
    "MISSION_ID": (3, 8), "SAT_NUMBER": (7, 8), **_DATE_TIME_AIRBUS,
    "LONGITUDE": (41, 46), "LATITUDE": (46, 49),
}  # fmt: skip
_LANDSAT = {
    "DATE": (17, 25), "YEAR": (17, 21), "MONTH": (21, 23), "DAY": (23, 25), "PATH": (10, 13), "ROW": (13, 16),
}  # fmt: skip


def product_info(name: str) -> dict[str, str]:
    """The reference's `Info(name)`: named 0-based half-open slices of the product name.

    Raises ProductIdError with the reference's text when the name is too short for its constellation or
    the constellation has no naming rule. Key sets differ per constellation on purpose (PHR and Landsat
    have no SCENE, legacy Sentinel-2 names have no date) because URL templates rely on exactly these.
    """
    constellation = constellation_from_product_id(name)
    if constellation is Constellation.SENTINEL1:
        if len(name) < 67:
            raise ProductIdError(f"invalid Sentinel1 file name: {name}")
        return {"SCENE": name, **_slices(name, _S1)}
    if constellation is Constellation.SENTINEL2:
        if len(name) < 60:
            raise ProductIdError(f"invalid Sentinel2 file name: {name}")
        if name[10] == "_":
            return {"SCENE": name, **_slices(name, _S2)}
        if len(name) < 78:
            raise ProductIdError(f"invalid Sentinel2 file name: {name}")
        return {"SCENE": name, **_slices(name, _S2_LEGACY)}
    if constellation is Constellation.PHR:
        if len(name) < 50:
            raise ProductIdError(f"invalid Pleiades file name: {name}")
        return _slices(name, _PHR)
    if constellation is Constellation.SPOT:
        if len(name) < 54:
            raise ProductIdError(f"invalid Spot file name: {name}")
        return {"SCENE": name, **_slices(name, _SPOT)}
    if constellation is Constellation.LANDSAT89:
        if len(name) < 40:
            raise ProductIdError(f"invalid Landsat8/9 file name: {name}")
        collection = {"O": "oli", "T": "tirs"}.get(name[1], "oli-tirs")
        return {"MISSION_ID": name[0:1] + name[2:4], "COLLECTION": collection, **_slices(name, _LANDSAT)}
    raise ProductIdError("Info: constellation not supported")


def date_from_product_id(name: str) -> dt.date:
    """Acquisition day encoded in the name. Raises ProductIdError for an unsupported or too short name,
    ValueError when the name has no date keys (legacy Sentinel-2) or they do not form a date."""
    info = product_info(name)
    year, month, day = info.get("YEAR", ""), info.get("MONTH", ""), info.get("DAY", "")
    text = year + month + day
    # Not strptime: it cost more than the rest of a local download's lookup (called for every task).
    if (len(year), len(month), len(day)) != (4, 2, 2) or not (text.isascii() and text.isdigit()):
        raise ValueError(f"no date in {name!r}: {text!r}")
    return dt.date(int(year), int(month), int(day))  # ValueError for a day that does not exist


def format_brackets(text: str, *maps: Mapping[str, str]) -> str:
    """Replace every `{KEY}` of every map by its value; unknown placeholders stay as they are."""
    for mapping in maps:
        for key, value in mapping.items():
            text = text.replace("{" + key + "}", value)
    return text


def autofill_tags(source_id: str) -> tuple[dict[str, str], str]:
    """Tags `constellation`/`satellite` and the ProductName the catalogue de-duplicates on.

    The ProductName drops what differs between two copies of the same acquisition: the unique id of a
    Sentinel-1 name, the processing baseline (`Nxxyy`) of a Sentinel-2 name.
    """
    constellation = constellation_from_product_id(source_id)
    if constellation is Constellation.SENTINEL1:
        tags = {"constellation": "SENTINEL1", "satellite": "SENTINEL1" + source_id[2:3]}
        return tags, source_id[0:63]
    if constellation is Constellation.SENTINEL2:
        tags = {"constellation": "SENTINEL2", "satellite": "SENTINEL2" + source_id[2:3]}
        return tags, source_id[0:26] + "_NXXYY" + source_id[32:]
    if constellation is Constellation.LANDSAT89:
        tags = {"constellation": "LANDSAT", "satellite": "LANDSAT" + source_id[2:4]}
        return tags, source_id
    return {}, ""
