"""Origins (scheme, host, port) and the rule for credentials across redirects.

Credentials (`Authorization`) follow a redirect only to the same origin, the `http://h` → `https://h`
upgrade on the default ports counting as the same: that is requests' own `Session.should_strip_auth`,
used as it is. On top of it a caller may name `trusted` origins its credentials are also meant for (the
HTTP templates' hosts; the CDSE download, catalogue and redirect hosts, so that
`catalogue.dataspace.copernicus.eu` → `download.dataspace.copernicus.eu` keeps the token). Never to
another host of the same domain (`a.s3.amazonaws.com` → `b.s3.amazonaws.com` are different customers),
and never from https to plain http, trusted or not. Once dropped, a header stays dropped for the rest of
the redirect chain (requests rebuilds each hop from the previous one).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Set as AbstractSet

import requests

_DEFAULT_PORTS = {"http": 80, "https": 443}
# should_strip_auth reads no session state: one instance answers for every caller.
_RULES = requests.Session()


def origin(url: str) -> str:
    """`scheme://host:port` of a URL (lower case, the default port written out): what credentials are
    bound to. "" when the URL has no host (or an unreadable port)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    return f"{scheme}://{host}:{port}"


def place(url: str) -> str:
    """What a remote place (a download link, an annotations pattern) is allowed by: `origin` for
    http(s), `scheme://bucket` for object stores (lower case), "" for a local path or a URL without a
    host."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("s3", "gs"):
        return f"{scheme}://{parts.netloc.lower()}" if parts.netloc else ""
    return origin(url) if scheme else ""


def same_origin(url: str, base: str) -> bool:
    found = origin(url)
    return bool(found) and found == origin(base)


def keeps_credentials(previous: str, following: str, trusted: AbstractSet[str] = frozenset()) -> bool:
    """Whether `Authorization` sent to `previous` may go on to `following`, the URL it redirects to.

    `trusted` holds origins (see `origin`)."""
    after = origin(following)
    if not after:
        return False
    if previous.lower().startswith("https:") and not after.startswith("https://"):
        return False  # never in cleartext once on TLS
    return after in trusted or not _RULES.should_strip_auth(previous, following)
