"""A real HTTP proxy on loopback that demands `Proxy-Authorization: Basic` (as a corporate proxy does),
for tests of the outbound HTTP stack (libs/http): plain-http requests are forwarded (absolute URI in the
request line), https goes through a CONNECT tunnel. Without the right credentials it answers 407.

Only loopback targets are reached: a test never sends traffic elsewhere. One request per client
connection (the proxy closes after relaying the answer), which keeps the relay trivial.
"""

from __future__ import annotations

import base64
import dataclasses
import select
import socket
import socketserver
import threading
import urllib.parse
from typing import Self

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the absolute URI, or host:port for CONNECT
    authorized: bool


class AuthProxy:
    """`with AuthProxy("user", "pass") as proxy:` listens on `proxy.url(user, password)`."""

    def __init__(self, username: str, password: str):
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._handle(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, username: str, password: str) -> str:
        user = urllib.parse.quote(username, safe="")
        secret = urllib.parse.quote(password, safe="")
        return f"http://{user}:{secret}@127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handle(self, handler: socketserver.StreamRequestHandler) -> None:
        line = handler.rfile.readline(65537).decode("latin-1").rstrip("\r\n")
        if not line:
            return
        method, target, _version = line.split(" ", 2)
        headers: list[tuple[str, str]] = []
        while (header := handler.rfile.readline(65537).decode("latin-1").rstrip("\r\n")) != "":
            name, _, value = header.partition(":")
            headers.append((name.strip(), value.strip()))
        given = next((v for n, v in headers if n.lower() == "proxy-authorization"), None)
        authorized = given == self.expected
        with self._lock:
            self.seen.append(Seen(method, target, authorized))
        if not authorized:
            handler.wfile.write(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = self._upstream(host.strip("[]"), int(port))
            handler.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            handler.wfile.flush()
            self._relay(handler.connection, upstream)
            return
        parts = urllib.parse.urlsplit(target)
        upstream = self._upstream(parts.hostname or "", parts.port or 80)
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        kept = [
            (n, v)
            for n, v in headers
            if n.lower() not in ("proxy-authorization", "proxy-connection", "connection")
        ]
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in kept)
        upstream.sendall((head + "Connection: close\r\n\r\n").encode("latin-1"))
        length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
        if length:
            upstream.sendall(handler.rfile.read(length))
        self._relay(handler.connection, upstream)

    @staticmethod
    def _upstream(host: str, port: int) -> socket.socket:
        if host not in _LOOPBACK:
            raise ConnectionRefusedError(f"the test proxy reaches loopback only, not {host}")
        return socket.create_connection((host, port), timeout=10)

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        """Both ways until either side closes. Nothing waits in the client's reader: a tunnelling client
        speaks only after the 200, a forwarded request's body was read above."""
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for source in readable:
                    data = source.recv(1 << 16)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()
