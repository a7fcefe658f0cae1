"""An asyncio face over a libs.http session, for code on an event loop that talks to our own gateway
(`geocube-ingester demo` / `up`, benchmarks/ingest.py).

requests blocks, and the local stack (libs/stack/local.py) serves the gateway on the same event loop
as its caller: each call runs in a worker thread, so the loop keeps serving the answer. Calls on one
client are made one at a time (a requests Session is not meant for concurrent use).
"""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from typing import Any, Self

import requests

from libs.http import client


class AsyncClient:
    """`async with AsyncClient(base_url, headers=…) as http: await http.get("/path", params=…)`.

    `headers` go with every request to `base_url` (and to a redirect only on its origin: the session's
    rule)."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/") + "/"
        self._headers = dict(headers or {})
        self._session = client.session(timeout)
        self._lock = threading.Lock()

    async def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = urllib.parse.urljoin(self.base_url, path.lstrip("/"))
        return await asyncio.to_thread(self._send, method, url, kwargs)

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        with self._lock:
            return self._session.request(method, url, headers=self._headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> requests.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> requests.Response:
        return await self.request("POST", path, **kwargs)

    async def aclose(self) -> None:
        self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
