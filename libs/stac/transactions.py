"""Publishing STAC collections and items to an external STAC API with the Transactions extension
(https://github.com/stac-api-extensions/transaction): POST /collections, POST /collections/{id}/items,
and PUT on 409 Conflict, so that publishing is an upsert and a redo duplicates nothing.

A dropped connection, a timeout, 429 and 5xx are transient (`PublishError.temporary`); any other answer is
the API refusing what we sent, which a retry would not change. The calls go through a libs.http session
(proxies, timeouts, redirects keep the token on its origin only), run in a thread: requests blocks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

import pystac
import requests

from libs.http import client, errors

logger = logging.getLogger(__name__)


class PublishError(Exception):
    def __init__(self, message: str, *, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


def _quote(identifier: str) -> str:
    return urllib.parse.quote(identifier, safe="")


def _merge_extent(current: dict[str, Any], new: pystac.Extent) -> dict[str, Any] | None:
    """The union of a published collection's extent and `new`; None when it already covers `new`."""
    try:
        (bbox,) = current["spatial"]["bbox"][:1]
        (interval,) = current["temporal"]["interval"][:1]
    except (KeyError, TypeError, ValueError):
        return new.to_dict()
    add_bbox = new.spatial.bboxes[0]
    merged_bbox = [
        min(bbox[0], add_bbox[0]),
        min(bbox[1], add_bbox[1]),
        max(bbox[2], add_bbox[2]),
        max(bbox[3], add_bbox[3]),
    ]
    # A null bound is taken as unknown, not as open-ended: the collections we publish carry both bounds.
    start, end = (pystac.utils.str_to_datetime(t) if t else None for t in interval)
    add_start, add_end = new.temporal.intervals[0]
    merged_start = min(t for t in (start, add_start) if t is not None) if start or add_start else None
    merged_end = max(t for t in (end, add_end) if t is not None) if end or add_end else None
    if merged_bbox == list(bbox) and (merged_start, merged_end) == (start, end):
        return None
    extent = pystac.Extent(
        pystac.SpatialExtent([merged_bbox]), pystac.TemporalExtent([[merged_start, merged_end]])
    )
    return extent.to_dict()


class StacTransactions:
    """One HTTP client to the STAC API at `url` (its landing page); `token` is sent as a bearer token."""

    def __init__(self, url: str, token: str = "", timeout: float = 30.0):
        self._base = url.rstrip("/") + "/"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session = client.session(timeout)
        # A requests Session is not meant for concurrent use: the processor's tasks publish one at a time.
        self._lock = threading.Lock()

    async def close(self) -> None:
        self._session.close()

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> requests.Response:
        with self._lock:
            return self._session.request(
                method, urllib.parse.urljoin(self._base, path), json=body, headers=self._headers
            )

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        try:
            response = await asyncio.to_thread(self._request, method, path, body)
        except requests.RequestException as exc:  # connection refused/reset, timeouts
            raise PublishError(f"STAC API {method} {path}: {errors.describe(exc)}", temporary=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise PublishError(
                f"STAC API {method} {path}: {response.status_code} {response.text[:200]}", temporary=True
            )
        return response

    @staticmethod
    def _refused(method: str, path: str, response: requests.Response) -> PublishError:
        return PublishError(
            f"STAC API {method} {path}: {response.status_code} {response.text[:500]}", temporary=False
        )

    async def upsert_collection(self, collection: pystac.Collection) -> None:
        """Creates the collection, or widens the published one's extent to cover this one's (other fields
        of a published collection are left as they are)."""
        body = collection.to_dict(include_self_link=False, transform_hrefs=False)
        response = await self._send("POST", "collections", body)
        if response.status_code in (200, 201):
            logger.info("STAC collection %s created", collection.id)
            return
        if response.status_code != 409:
            raise self._refused("POST", "collections", response)
        path = f"collections/{_quote(collection.id)}"
        current = await self._send("GET", path)
        if current.status_code != 200:
            raise self._refused("GET", path, current)
        published = current.json()
        extent = _merge_extent(published.get("extent", {}), collection.extent)
        if extent is None:
            return
        published["extent"] = extent
        published["links"] = [
            link
            for link in published.get("links", [])
            if link.get("rel") not in ("self", "root", "parent", "items")
        ]
        updated = await self._send("PUT", path, published)
        if updated.status_code not in (200, 201, 204):
            raise self._refused("PUT", path, updated)

    async def upsert_item(self, item: pystac.Item) -> bool:
        """True when the item was created, False when an item of that id was replaced (a redo)."""
        if item.collection_id is None:
            raise ValueError(f"item {item.id} has no collection")
        body = item.to_dict(include_self_link=False, transform_hrefs=False)
        items = f"collections/{_quote(item.collection_id)}/items"
        response = await self._send("POST", items, body)
        if response.status_code in (200, 201):
            return True
        if response.status_code != 409:
            raise self._refused("POST", items, response)
        path = f"{items}/{_quote(item.id)}"
        replaced = await self._send("PUT", path, body)
        if replaced.status_code not in (200, 201, 204):
            raise self._refused("PUT", path, replaced)
        return False

    async def publish(self, collection: pystac.Collection, items: Sequence[pystac.Item]) -> tuple[int, int]:
        """Upserts the collection then its items; returns (items created, items replaced)."""
        await self.upsert_collection(collection)
        created = 0
        for item in items:
            created += await self.upsert_item(item)
        return created, len(items) - created
