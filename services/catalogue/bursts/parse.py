"""One annotation XML file -> its bursts (spec sentinel1-bursts.md §2-4, reference §3.3).

The Geocube key, footprint and line rules are the reference's, bit for bit, because tile ids and
footprints already stored by the Go catalogue must be reproduced. The ESA burst ID is read on top
(`<burstId>`) or computed (burst_id.py) and is what links bursts across dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import xml.etree.ElementTree as ET

from services.catalogue.bursts import burst_id

# Go's `12*24*60*60/175` is an integer constant division: 5924, not 5924.571 (spec §4.1). Stored tile
# ids depend on it.
GO_ANX_MODULUS = float(12 * 24 * 60 * 60 // 175)


class AnnotationError(ValueError):
    """The file is not a usable annotation; `str(err)` names the file."""


@dataclasses.dataclass(frozen=True)
class Burst:
    swath: str  # "IW1".."IW3" (adsHeader/swath)
    tile_nr: int  # 1-based index in its swath file: SNAP TOPSAR-Split firstBurstIndex
    anx_key: int  # Geocube key: deciseconds since ANX (reference rounding and modulus)
    wkt: str  # 4-corner footprint, Go `%f` formatting
    burst_id: int | None  # ESA relative burst ID: the XML's when present, else computed
    burst_id_xml: int | None
    burst_id_computed: int | None
    direction: str  # "A"/"D" from productInformation/pass, used when the catalogue gives no tag
    relative_orbit: int | None  # from the mission and absolute orbit of the annotation


def go_round(x: float) -> int:
    """Go math.Round: half away from zero (Python's round() is half to even)."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += int(math.copysign(1, x))
    return int(t)


def anx_key(azimuth_anx_time: float) -> int:
    # math.fmod, not %: Go's math.Mod keeps the sign of x.
    return go_round(math.fmod(azimuth_anx_time, GO_ANX_MODULUS) * 10)


def tile_id(direction: str, relative_orbit: str, swath: str, key: int) -> str:
    """The reference SourceID, e.g. `A108_IW1_8361`."""
    return f"{direction[:1]}{relative_orbit}_{swath}_{key}"


def _text(root: ET.Element, path: str, name: str) -> str:
    node = root.find(path)
    if node is None or node.text is None:
        raise AnnotationError(f"annotation file {name}: missing {path}")
    return node.text.strip()


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def parse_annotation(data: bytes, name: str, relative_orbit: int | None = None) -> list[Burst]:
    """Bursts of one annotation file, in document order. `relative_orbit` (the catalogue's) is used for
    the ESA formula only when the annotation's mission has no known orbit offset."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise AnnotationError(f"annotation file {name} is not valid XML: {err}") from None
    if root.tag != "product":
        raise AnnotationError(f"annotation file {name}: root element is <{root.tag}>, not <product>")
    try:
        swath = _text(root, "adsHeader/swath", name)
        lines = int(_text(root, "swathTiming/linesPerBurst", name))
        samples = int(_text(root, "swathTiming/samplesPerBurst", name))
        mission = _text(root, "adsHeader/missionId", name)
        orbit = burst_id.relative_orbit(mission, int(_text(root, "adsHeader/absoluteOrbitNumber", name)))
        orbit = orbit if orbit is not None else relative_orbit
        direction = _text(root, "generalAnnotation/productInformation/pass", name)[:1].upper()
        anx_time = _time(_text(root, "imageAnnotation/imageInformation/ascendingNodeTime", name))
        # The annotated ANX can be the one before the product start's orbit (products just past the
        # equator, spec §8.1): the absolute orbit number already counts the new orbit, so measure from the
        # next ANX. A product *crossing* the ANX starts before it and keeps its start orbit and ANX.
        start = _time(_text(root, "adsHeader/startTime", name))
        anx_shift = burst_id.T_ORB if (start - anx_time).total_seconds() >= burst_id.T_ORB else 0.0
        first: dict[int, tuple[float, float]] = {}  # near range (pixel 0), by grid line
        last: dict[int, tuple[float, float]] = {}  # far range (pixel samplesPerBurst-1)
        for point in root.iterfind("geolocationGrid/geolocationGridPointList/geolocationGridPoint"):
            pixel = int(point.findtext("pixel", ""))
            if pixel == 0 or pixel == samples - 1:
                lonlat = (float(point.findtext("longitude", "")), float(point.findtext("latitude", "")))
                (first if pixel == 0 else last)[int(point.findtext("line", ""))] = lonlat
        bursts = []
        for i, node in enumerate(root.iterfind("swathTiming/burstList/burst")):
            key = anx_key(float(node.findtext("azimuthAnxTime", "")))
            wkt = _footprint(first, last, i, lines, name)
            xml_id = node.findtext("burstId")
            computed = None
            if orbit is not None:
                since_anx = (_time(node.findtext("sensingTime", "")) - anx_time).total_seconds() - anx_shift
                computed = burst_id.esa_burst_id(swath, since_anx, orbit)
            xml_value = int(xml_id) if xml_id else None
            bursts.append(
                Burst(swath, i + 1, key, wkt, xml_value if xml_value is not None else computed,
                      xml_value, computed, direction, orbit)
            )  # fmt: skip
    except ValueError as err:
        if isinstance(err, AnnotationError):
            raise
        raise AnnotationError(f"annotation file {name}: {err}") from None
    return bursts


def _footprint(
    first: dict[int, tuple[float, float]], last: dict[int, tuple[float, float]], i: int, lines: int, name: str
) -> str:
    # The last grid line is n*L-1, not n*L: hence the -1 fallback, used in practice only for the last
    # burst's end line (the reference's "shifts by 1").
    first_line = i * lines if i * lines in first else i * lines - 1
    if first_line not in first:
        raise AnnotationError(f"readAnnotation: First line not found in annotation file {name}")
    last_line = (i + 1) * lines if (i + 1) * lines in last else (i + 1) * lines - 1
    if last_line not in last:
        raise AnnotationError(f"readAnnotation: Last line not found in annotation file {name}")
    # The reference reads the two other corners unchecked (a gap would become 0,0); we refuse instead.
    if last_line not in first or first_line not in last:
        raise AnnotationError(f"annotation file {name}: geolocation grid misses a corner of burst {i + 1}")
    corners = (first[first_line], first[last_line], last[last_line], last[first_line], first[first_line])
    return "POLYGON((" + ", ".join(f"{lon:f} {lat:f}" for lon, lat in corners) + "))"
