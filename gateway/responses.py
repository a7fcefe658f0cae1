"""Response helpers: the reference never sets Content-Type, so Go sniffs every body as plain text."""

from __future__ import annotations

from starlette.responses import Response

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def text(body: str, status: int = 200) -> Response:
    """A body the reference writes (text or JSON alike): served as text/plain, like Go's sniffing."""
    if not body:
        return empty(status)
    return Response(body.encode(), status_code=status, headers={"Content-Type": TEXT})


def json_body(body: str, status: int = 200) -> Response:
    """Our own API (/registry): honest JSON content type."""
    return Response(body.encode(), status_code=status, headers={"Content-Type": JSON})


def empty(status: int) -> Response:
    return Response(b"", status_code=status)


def not_found() -> Response:
    # Go's http.NotFound, byte for byte.
    return Response(
        b"404 page not found\n",
        status_code=404,
        headers={"Content-Type": TEXT, "X-Content-Type-Options": "nosniff"},
    )
