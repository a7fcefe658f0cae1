"""URLs as they may be shown: in logs and error texts, never with credentials."""

from __future__ import annotations

import urllib.parse


def public_url(url: str) -> str:
    """The URL without user info, query or fragment: presigned signatures and tokens stay out of texts."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
