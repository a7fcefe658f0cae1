"""The processor's publishing step: after indexing, the task's items are upserted to the STAC API given
by GEOCUBE_PROCESSOR_STAC_PUBLISH_URL, with the same retries as indexing (3 attempts, then a temporary
failure: the task is leased again and, publishing being an upsert, redone without duplicates)."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import Sequence

from services.processor.indexing import ToIndex, instance_for, with_retries
from services.publishing.items import items_for
from services.publishing.stac_api import PublishError, StacPublisher, collection_for

logger = logging.getLogger(__name__)


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, PublishError) and exc.temporary


class StacPublishing:
    def __init__(self, publisher: StacPublisher, retry_pause: float = 15.0):
        self._publisher = publisher
        self._retry_pause = retry_pause

    async def __call__(self, to_index: Sequence[ToIndex], workdir: pathlib.Path) -> None:
        instances = [instance_for(item) for item in to_index]
        items = await asyncio.to_thread(items_for, to_index, workdir, instances)
        by_collection: dict[str, list] = {}  # type: ignore[type-arg]
        for item in items:
            by_collection.setdefault(item.collection_id or "", []).append(item)
        for collection_id, members in sorted(by_collection.items()):
            collection = collection_for(collection_id, members, f"Layers indexed for the AOI {collection_id}")

            async def publish(collection=collection, members=members):  # type: ignore[no-untyped-def]
                return await self._publisher.publish(collection, members)

            created, replaced = await with_retries(
                publish, _retried, self._retry_pause, "STAC publishing", prefix="publishTile"
            )
            logger.info(
                "published %d item(s) to the STAC collection %s (%d replaced)",
                created + replaced,
                collection_id,
                replaced,
                extra={"aoi": collection_id},
            )
