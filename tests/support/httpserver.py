"""A real HTTP/1.1 server on loopback for tests of clients of remote APIs (catalogues, providers,
annotation sources). Tests describe responses with a handler function; the server records every request
so a test can assert what the client sent (paths, query strings, Range and Authorization headers).

The handler receives a `Request` and returns a `Response`; a body may be bytes or an iterator of chunks
(sent as they come, so a test can break a connection mid-body with `Response.truncate_after`).
"""

from __future__ import annotations

import dataclasses
import http.server
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclasses.dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # Close the connection after this many body bytes (a broken download); None = send everything.
    truncate_after: int | None = None

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Response:
        import json

        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json", **headers})


Handler = Callable[[Request], Response]


class LocalHTTPServer:
    """`with LocalHTTPServer(handler) as server:` serves on `server.url` (http://127.0.0.1:<port>)."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None):
        self.handler = handler
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._request_handler_class())
        self._server.daemon_threads = True
        # https: the listening socket hands out TLS connections (a server context, e.g. support.tls).
        self._scheme = "http"
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _count(self, sent: int) -> None:
        with self._lock:
            self.bytes_sent += sent

    def _request_handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows the assertions, not the access log

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=urllib.parse.unquote(parsed.path),
                    query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                # Recorded before answering: a client's next request cannot be listed before this one.
                owner._record(request)
                response = owner.handler(request)
                self._send(request, response)

            def _send(self, request: Request, response: Response) -> int:
                chunks = _chunks(response.body)
                self.send_response(response.status)
                headers = dict(response.headers)
                if isinstance(response.body, bytes | bytearray) and "Content-Length" not in headers:
                    headers["Content-Length"] = str(len(response.body))
                if "Content-Length" not in headers:
                    headers["Connection"] = "close"
                    self.close_connection = True
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if request.method == "HEAD":
                    return 0
                sent = 0
                for chunk in chunks:
                    # Counted before each write: a client that has every byte must see them counted (a
                    # count after the response raced the client's assertion under load).
                    if response.truncate_after is not None and sent + len(chunk) >= response.truncate_after:
                        owner._count(response.truncate_after - sent)
                        self.wfile.write(chunk[: response.truncate_after - sent])
                        sent = response.truncate_after
                        self.wfile.flush()
                        self.close_connection = True
                        return sent
                    owner._count(len(chunk))
                    self.wfile.write(chunk)
                    sent += len(chunk)
                return sent

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return _Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client giving up mid-response (timeout tests, resumed downloads) is expected, not an error.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _chunks(body: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(body, bytes | bytearray):
        yield bytes(body)
    else:
        yield from body


def byte_range(request: Request, size: int) -> tuple[int, int] | None:
    """The (start, end-inclusive) of a `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` header, or None."""
    header = request.headers.get("range", "")
    if not header.startswith("bytes=") or "," in header:
        return None
    start_text, _, end_text = header[len("bytes=") :].partition("-")
    if not start_text:
        return max(0, size - int(end_text)), size - 1
    return int(start_text), min(size - 1, int(end_text) if end_text else size - 1)


def serve_bytes(request: Request, data: bytes, **headers: str) -> Response:
    """A static object honouring Range (206 + Content-Range) the way real file servers do."""
    wanted = byte_range(request, len(data))
    if wanted is None:
        return Response(200, data, {"Accept-Ranges": "bytes", **headers})
    start, end = wanted
    if start >= len(data):
        return Response(416, b"", {"Content-Range": f"bytes */{len(data)}"})
    return Response(
        206,
        data[start : end + 1],
        {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{len(data)}", **headers},
    )
