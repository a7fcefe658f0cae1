"""WKT parsing that fails only with shapely's own errors, whatever the text.

GEOS quotes the text it could not parse in its message, cut at 1 kB; when the cut falls inside a
multi-byte character, shapely's decoding of that message raises UnicodeDecodeError instead of a parse
error (a request's geometry became an INTERNAL error). WKT is ASCII, so other text is refused first.
"""

from __future__ import annotations

import shapely
from shapely import errors


def from_wkt(text: str) -> shapely.Geometry:
    if not text.isascii():
        raise errors.GEOSException("ParseException: WKT is ASCII text; found other characters")
    return shapely.from_wkt(text)
