"""After indexing: the STAC Item of each processed tile, in the catalogue (STAC API) and on storage.

Per task: build the item of every tile that got indexed files (libs/stac/items.py, reading the
local copies), store the items in the catalogue (IndexItems: merges with an earlier item of the tile,
bumps the static catalog's revision), write each stored item as its own file beside its tile's files,
then rebuild the shared files (catalog.json, the touched collections) from the catalogue's list.

Concurrent processors converge without a lock: a writer snapshots the catalogue (revision r), writes
the shared files, and checks the revision again; if it moved, another task committed meanwhile and
the writer rebuilds from the newer snapshot. The last file written is then always from the latest
snapshot: whoever commits after a writer's check writes after it too (docs/stac.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import pathlib
from collections.abc import Sequence

import grpc
import pystac

from protos.ingester.v1 import registry_pb2, registry_pb2_grpc
from libs.graph.model import OutFile
from services.processor.indexing import ToIndex, call_with_retries
from libs.stac import items, static
from libs.storage import naming
from libs.storage.backend import Storage

logger = logging.getLogger(__name__)

# Rounds of the rebuild before leaving it to the writers that keep committing (each rebuilds too).
MAX_REBUILDS = 20


def _scale_offset(out_file: OutFile) -> tuple[float | None, float | None]:
    """raster:bands scale/offset of the registry's linear dformat map (only when it is linear)."""
    span = out_file.max_value - out_file.min_value
    real_span = out_file.ext_max_value - out_file.ext_min_value
    if out_file.exponent not in (0, 1) or span <= 0 or real_span == 0:
        return None, None
    scale = real_span / span
    return scale, out_file.ext_min_value - out_file.min_value * scale


def _item_file(entry: ToIndex, workdir: pathlib.Path) -> items.ItemFile:
    out_file, tile = entry.out_file, entry.tile
    local = None
    if not naming.is_zip_stored(out_file.extension):
        local = workdir / naming.layer_file_name(tile, out_file.layer, out_file.extension)
    scale, offset = _scale_offset(out_file)
    instance = (tile.scene.data.instances_id or {}).get(out_file.layer, "")
    return items.ItemFile(out_file.layer, entry.uri, local, instance, scale=scale, offset=offset)


def _asset_key(entry: ToIndex) -> str:
    out_file = entry.out_file
    return naming.object_key(
        entry.tile, naming.stored_file_name(entry.tile, out_file.layer, out_file.extension)
    )


class StacPublisher:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        write_static: bool = True,
        retry_pause: float = 15.0,
        link_records: bool = True,
    ):
        # With a Geocube server the records are the Geocube's: the catalogue has none to link an item to
        # (the item still names its record in `ingester:record_id`).
        self._link_records = link_records
        self._stub = registry_pb2_grpc.RegistryStub(channel)
        self._write_static = write_static
        self._retry_pause = retry_pause

    async def publish(
        self, indexed: Sequence[ToIndex], storage: Storage, storage_uri: str, workdir: pathlib.Path
    ) -> list[pystac.Item]:
        """Returns the items as stored, merged with an earlier publication of their tile (also what is
        published to an external STAC API when one is configured)."""
        by_tile: dict[int, list[ToIndex]] = {}
        for entry in indexed:
            by_tile.setdefault(entry.tile.id, []).append(entry)
        request = registry_pb2.IndexItemsRequest(catalog_root=storage_uri if self._write_static else "")
        asset_keys: list[dict[str, str]] = []
        for entries in by_tile.values():
            tile = entries[0].tile
            files = [_item_file(e, workdir) for e in entries]
            item: pystac.Item = await asyncio.to_thread(items.build_tile_item, tile, files)
            request.items.add(
                collection=item.collection_id or "",
                id=item.id,
                record_id=tile.scene.data.record_id if self._link_records else "",
                item_json=_json(item),
                catalog_key=static.item_key(tile) if self._write_static else "",
            )
            asset_keys.append({e.out_file.layer: _asset_key(e) for e in entries})
        response: registry_pb2.IndexItemsResponse = await call_with_retries(
            self._stub.IndexItems, request, "indexTile: STAC items", self._retry_pause
        )
        # The items as stored: merged with an earlier publication of the same tile (its assets kept).
        stored = [pystac.Item.from_dict(json.loads(text)) for text in response.items_json]
        if self._write_static:
            # Item files after the commit, from the stored items: they hold the assets of earlier tasks too.
            for sent, item, keys in zip(request.items, stored, asset_keys, strict=True):
                document = static.static_item(item, sent.catalog_key, keys)
                await asyncio.to_thread(static.write_json, storage, sent.catalog_key, document, workdir)
            touched = sorted({it.collection for it in request.items})
            await self.rebuild(storage, storage_uri, touched, workdir)
        return stored

    async def _collections(
        self, root: str, ids: Sequence[str], with_items: bool
    ) -> registry_pb2.ListItemCollectionsResponse:
        request = registry_pb2.ListItemCollectionsRequest(
            ids=ids, catalog_root=root, with_item_ids=with_items
        )
        response: registry_pb2.ListItemCollectionsResponse = await call_with_retries(
            self._stub.ListItemCollections, request, "indexTile: STAC collections", self._retry_pause
        )
        return response

    async def rebuild(
        self, storage: Storage, root: str, touched: Sequence[str], workdir: pathlib.Path
    ) -> None:
        """Rewrites catalog.json and the `touched` collections until no commit happened meanwhile."""
        for _ in range(MAX_REBUILDS):
            everything = await self._collections(root, [], with_items=False)
            detailed = await self._collections(root, touched, with_items=True)
            if detailed.revision != everything.revision:
                continue  # a commit between the two reads: take a consistent pair
            for summary in detailed.collections:
                facts = static.CollectionFacts(
                    summary.id,
                    list(summary.bbox) or None,
                    summary.start.ToDatetime(tzinfo=dt.UTC),
                    summary.end.ToDatetime(tzinfo=dt.UTC),
                    [(ref.id, ref.href) for ref in summary.items],
                )
                document = static.collection_document(facts)
                await asyncio.to_thread(
                    static.write_json, storage, static.collection_key(summary.id), document, workdir
                )
            document = static.catalog_document([c.id for c in everything.collections])
            await asyncio.to_thread(static.write_json, storage, static.CATALOG_KEY, document, workdir)
            check = await self._collections(root, touched[:1], with_items=False)
            if check.revision == everything.revision:
                return
        logger.warning(
            "static STAC catalog %s still changing after %d rebuilds: left to later writers",
            root,
            MAX_REBUILDS,
        )


def _json(item: pystac.Item) -> str:
    return json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False))
