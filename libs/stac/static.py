"""The static STAC catalog written beside the outputs on storage (file://, s3://, gs://).

Layout below the storage root, next to the files it describes (naming.object_key):

    catalog.json                                    the root catalog: one child per AOI
    <aoi>/collection.json                           the AOI's collection: one link per item
    <aoi>/<scene>/tiles/<tile>.json                 the tile's item; assets `./<tile>/<file>`

Every href is relative (a self-contained catalog), so the tree can be copied or served from anywhere.
Items are each their own file, written once by the processor of their tile; only catalog.json and the
collection files are shared, and they are rebuilt whole from the catalogue (see services/processor/
stac_publish.py for how concurrent writers converge).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib
import posixpath
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pystac

from libs.domain.models import Tile
from libs.stac import collections
from libs.storage import naming
from libs.storage.backend import Storage

CATALOG_KEY = "catalog.json"
_JSON = pystac.MediaType.JSON
_GEOJSON = pystac.MediaType.GEOJSON


@dataclasses.dataclass(frozen=True)
class CollectionFacts:
    id: str
    bbox: Sequence[float] | None
    start: dt.datetime | None
    end: dt.datetime | None
    items: Sequence[tuple[str, str]] = ()  # (item id, item file key)


def collection_key(collection_id: str) -> str:
    return f"{naming.check_name_part('aoi', collection_id)}/collection.json"


def item_key(tile: Tile) -> str:
    """`<aoi>/<scene>/tiles/<tile>.json`: beside the tile's folder of files."""
    folder = naming.object_key(tile, "x").rsplit("/", 1)[0]
    return f"{folder}.json"


def _rel(target_key: str, from_key: str) -> str:
    """Relative href of `target_key` seen from the file `from_key` (both keys below the root)."""
    relative = posixpath.relpath(target_key, posixpath.dirname(from_key) or ".")
    return relative if relative.startswith("../") else f"./{relative}"


def _links(obj: pystac.STACObject, key: str, parent_key: str) -> None:
    obj.clear_links()
    obj.add_link(pystac.Link(pystac.RelType.ROOT, _rel(CATALOG_KEY, key), _JSON, collections.CATALOG_TITLE))
    obj.add_link(pystac.Link(pystac.RelType.PARENT, _rel(parent_key, key), _JSON))


def static_item(item: pystac.Item, key: str, asset_keys: Mapping[str, str]) -> dict[str, Any]:
    """The item as stored at `key`: relative links and, for the assets in `asset_keys`, relative hrefs."""
    item = item.clone()
    collection = collection_key(item.collection_id or "")
    _links(item, key, collection)
    item.add_link(pystac.Link(pystac.RelType.COLLECTION, _rel(collection, key), _JSON))
    for name, asset in item.assets.items():
        if name in asset_keys:
            asset.href = _rel(asset_keys[name], key)
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def collection_document(facts: CollectionFacts) -> dict[str, Any]:
    key = collection_key(facts.id)
    collection = collections.build_collection(facts.id, facts.bbox, facts.start, facts.end)
    _links(collection, key, CATALOG_KEY)
    for item_id, item_file in facts.items:
        if item_file:  # an item indexed without a static file (none today) has nothing to link to
            collection.add_link(pystac.Link(pystac.RelType.ITEM, _rel(item_file, key), _GEOJSON, item_id))
    return collection.to_dict(include_self_link=False, transform_hrefs=False)


def catalog_document(collection_ids: Sequence[str]) -> dict[str, Any]:
    catalog = collections.build_catalog()
    catalog.clear_links()
    catalog.add_link(pystac.Link(pystac.RelType.ROOT, f"./{CATALOG_KEY}", _JSON, collections.CATALOG_TITLE))
    for collection_id in collection_ids:
        catalog.add_link(
            pystac.Link(pystac.RelType.CHILD, _rel(collection_key(collection_id), CATALOG_KEY), _JSON)
        )
    return catalog.to_dict(include_self_link=False, transform_hrefs=False)


def write_json(storage: Storage, key: str, document: Mapping[str, Any], workdir: pathlib.Path) -> str:
    """Writes `document` as `key` (atomically: put_file's contract); blocking. Returns the URI."""
    local = workdir / f".stac-{uuid.uuid4().hex}.json"
    try:
        local.write_text(json.dumps(document, indent=1))
        return storage.put_file(local, key)
    finally:
        local.unlink(missing_ok=True)
