"""ASGI layers in front of the router, in the reference's order (spec §4.1): request id, CORS, then the
path cleaning its router does before matching."""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
import uuid

from opentelemetry import trace
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.runtime import logs

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_KEY = "gateway.request_id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(scope: Scope) -> str:
    return str(scope.get(_REQUEST_ID_KEY, ""))


class RequestIdMiddleware:
    """Gives every request an id (the client's X-Request-Id when it is sane), echoes it in the response,
    binds it to the log context (libs/runtime/logs.py) and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope[_REQUEST_ID_KEY] = rid
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        trace.get_current_span().set_attribute("geocube.request_id", rid)
        # Bound for the whole request: every log line, and the metadata of every catalogue call.
        with logs.bind(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                logger.info(
                    "%s %s -> %d (%.1f ms)",
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )


# Headers a preflight may always ask for (gorilla/handlers' defaults), and the ones we allow on top:
# Authorization as the reference, Content-Type as a fix (spec §4.1 [BUG?]).
_DEFAULT_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Origin"}
_ALLOWED_HEADERS = {"Authorization", "Content-Type", "*"}
_ALLOWED_METHODS = {"GET", "POST", "PUT", "OPTIONS", "DELETE"}
_SIMPLE_METHODS = {"GET", "HEAD", "POST"}
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def canonical_header(name: str) -> str:
    """Go's http.CanonicalHeaderKey: `content-type` -> `Content-Type`; names with invalid characters
    are returned unchanged."""
    if not _TOKEN_CHARS.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if not origin:
            if scope["method"] == "OPTIONS":
                # Answered here: OPTIONS never reaches the router.
                await Response(b"", status_code=200)(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self._preflight(headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Access-Control-Allow-Origin"] = "*"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(headers: Headers) -> Response:
        if "access-control-request-method" not in headers:
            return Response(b"", status_code=400)
        method = headers["access-control-request-method"]
        if method not in _ALLOWED_METHODS:
            return Response(b"", status_code=405)
        accepted = []
        for requested in headers.get("access-control-request-headers", "").split(","):
            name = canonical_header(requested.strip())
            if not name or name in _DEFAULT_HEADERS:
                continue
            if name not in _ALLOWED_HEADERS:
                return Response(b"", status_code=403)
            accepted.append(name)
        answer = {"Access-Control-Allow-Origin": "*"}
        if accepted:
            answer["Access-Control-Allow-Headers"] = ",".join(accepted)
        if method not in _SIMPLE_METHODS:
            answer["Access-Control-Allow-Methods"] = method
        return Response(b"", status_code=200, headers=answer)


def clean_path(path: str) -> str:
    """Go's path.Clean with the trailing slash kept (gorilla/mux's cleanPath)."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class CleanPathMiddleware:
    """Redirects a non-canonical path (`//`, `.`, `..`) with a 301 to its cleaned form."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            cleaned = clean_path(path)
            if cleaned != path:
                location = urllib.parse.quote(cleaned, safe="/:@!$&'()*+,;=-._~")
                query = scope.get("query_string", b"").decode("latin-1")
                if query:
                    location += "?" + query
                await Response(b"", status_code=301, headers={"Location": location})(scope, receive, send)
                return
        await self.app(scope, receive, send)
