"""The processor's external publishing step: the STAC items the task built (libs/stac/items.py, one per
tile) are upserted, with their AOI's collection, to the STAC API of GEOCUBE_PROCESSOR_STAC_PUBLISH_URL.
Same retries as indexing (3 attempts, then a temporary failure: the task is leased again and, publishing
being an upsert, redone without duplicates)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pystac

from services.processor.indexing import with_retries
from libs.stac.transactions import PublishError, StacTransactions
from libs.stac.collections import build_collection

logger = logging.getLogger(__name__)


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, PublishError) and exc.temporary


def collection_of(collection_id: str, items: Sequence[pystac.Item]) -> pystac.Collection:
    """The AOI's collection with an extent covering `items` (the API widens a published one to it)."""
    boxes = [item.bbox for item in items if item.bbox]
    bbox = (
        [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
        if boxes
        else None
    )
    times = [item.datetime for item in items if item.datetime is not None]
    return build_collection(collection_id, bbox, min(times, default=None), max(times, default=None))


class StacPublishing:
    def __init__(self, transactions: StacTransactions, retry_pause: float = 15.0):
        self._transactions = transactions
        self._retry_pause = retry_pause

    async def __call__(self, items: Sequence[pystac.Item]) -> None:
        by_collection: dict[str, list[pystac.Item]] = {}
        for item in items:
            by_collection.setdefault(item.collection_id or "", []).append(item)
        for collection_id, members in sorted(by_collection.items()):
            collection = collection_of(collection_id, members)

            async def publish(
                collection: pystac.Collection = collection, members: list[pystac.Item] = members
            ) -> tuple[int, int]:
                return await self._transactions.publish(collection, members)

            created, replaced = await with_retries(
                publish, _retried, self._retry_pause, "STAC publishing", prefix="publishTile"
            )
            logger.info(
                "published %d item(s) to the external STAC collection %s (%d replaced)",
                created + replaced,
                collection_id,
                replaced,
                extra={"aoi": collection_id},
            )
