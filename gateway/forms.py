"""Reading the catalogue endpoints' form fields the way the reference does (spec §4.2), with a size limit.

A field's value is its *form value* when non-empty — the first value among the URL query, urlencoded
body fields and multipart text fields, in Go's order — otherwise the content of the multipart *file*
part of that name. The whole body is read into memory, capped at `max_bytes` (413 beyond).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import AsyncGenerator

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from gateway.errors import GatewayError

# Go's ParseForm reads a urlencoded body only for these methods; multipart is read for any method.
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclasses.dataclass
class Form:
    values: dict[str, list[str]]
    files: dict[str, list[bytes]]
    # Why there is no multipart form (None when the body was multipart and parsed).
    multipart_error: str | None

    def value(self, name: str) -> str:
        """Go's FormValue: the first value (even an empty one), "" when absent."""
        found = self.values.get(name)
        return found[0] if found else ""

    def field(self, name: str) -> str | None:
        """The field's text, or None when it is missing (neither a non-empty value nor a file part)."""
        text = self.value(name)
        if text:
            return text
        contents = self.files.get(name)
        if not contents:
            return None
        # Go keeps bytes; invalid UTF-8 becomes U+FFFD when Go decodes JSON strings, likewise here.
        return contents[0].decode("utf-8", errors="replace")


def too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"request body too large: the limit is {limit} bytes")


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _query_values(query: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return values


async def read_form(request: Request, max_bytes: int) -> Form:
    query = _query_values(request.url.query)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        body = await read_body(request, max_bytes)
        return await _multipart(request, body, query, max_bytes)
    if media_type == "application/x-www-form-urlencoded" and request.method in _BODY_METHODS:
        body = await read_body(request, max_bytes)
        posted = _query_values(body.decode("utf-8", errors="replace"))
        # Go puts body values before the query's.
        values = {key: posted.get(key, []) + query.get(key, []) for key in {*posted, *query}}
        return Form(values, {}, "request Content-Type isn't multipart/form-data")
    return Form(query, {}, "request Content-Type isn't multipart/form-data")


async def _single_chunk(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def _multipart(request: Request, body: bytes, query: dict[str, list[str]], max_bytes: int) -> Form:
    parser = MultiPartParser(request.headers, _single_chunk(body), max_part_size=max_bytes)
    try:
        parsed = await parser.parse()
    except MultiPartException as exc:
        return Form(query, {}, f"invalid multipart body: {exc.message}")
    # Go appends multipart text fields after the query's values.
    values = {key: list(items) for key, items in query.items()}
    files: dict[str, list[bytes]] = {}
    try:
        for key, item in parsed.multi_items():
            if isinstance(item, UploadFile):
                content = await item.read()
                # A part whose filename is empty is a text field for Go's multipart reader.
                if item.filename:
                    files.setdefault(key, []).append(content)
                else:
                    values.setdefault(key, []).append(content.decode("utf-8", errors="replace"))
            else:
                values.setdefault(key, []).append(item)
    finally:
        await parsed.close()
    return Form(values, files, None)
