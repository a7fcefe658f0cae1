"""The static catalog's shared files (catalog.json, collection.json) under concurrent writers: each task
commits its item to the real catalogue and rebuilds the shared files; whatever the interleaving, the
files end listing every item. On local storage and on S3 (moto's server, the real protocol)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import pathlib
import threading
from typing import Any

import grpc
import pystac
import pytest

from protos.ingester.v1 import registry_pb2, registry_pb2_grpc
from services.catalogue.app import CatalogueApp
from services.processor.stac_publish import StacPublisher
from libs.stac import collections as stac_collections
from libs.stac import static
from libs.storage import open_storage
from libs.storage.backend import Storage
from tests.support.s3server import S3Endpoint

WRITERS = 12
TIMEOUT = 60.0


def _item(collection: str, index: int) -> pystac.Item:
    west = 9.0 + index / 10
    return pystac.Item(
        id=f"item-{index:02d}",
        geometry={
            "type": "Polygon",
            "coordinates": [
                [[west, 55.0], [west + 0.1, 55.0], [west + 0.1, 55.1], [west, 55.1], [west, 55.0]]
            ],
        },
        bbox=[west, 55.0, west + 0.1, 55.1],
        datetime=dt.datetime(2022, 1, 1 + index, tzinfo=dt.UTC),
        properties={},
        collection=collection,
    )


class GatedStorage:
    """Real storage whose first write of `key` stops until `release` is set: puts a writer's stale
    snapshot on disk after a newer writer finished, the interleaving the revision check is for."""

    def __init__(self, storage: Storage, key: str):
        self._storage = storage
        self._key = key
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def put_file(self, local_path: pathlib.Path, key: str) -> str:
        if key == self._key and not self.arrived.is_set():
            self.arrived.set()
            assert self.release.wait(TIMEOUT), "never released"
        return self._storage.put_file(local_path, key)


async def _commit(
    channel: grpc.aio.Channel, storage: Storage, root: str, workdir: pathlib.Path, index: int
) -> str:
    collection = f"Aoi{index % 2}"
    item = _item(collection, index)
    key = f"{collection}/scene-{index}/tiles/tile.json"
    await asyncio.to_thread(static.write_json, storage, key, static.static_item(item, key, {}), workdir)
    stub = registry_pb2_grpc.RegistryStub(channel)
    request = registry_pb2.IndexItemsRequest(catalog_root=root)
    request.items.add(
        collection=collection,
        id=item.id,
        item_json=json.dumps(item.to_dict(include_self_link=False)),
        catalog_key=key,
    )
    await stub.IndexItems(request, timeout=TIMEOUT)
    return collection


async def _writer(
    channel: grpc.aio.Channel, storage: Storage, root: str, workdir: pathlib.Path, index: int
) -> None:
    collection = await _commit(channel, storage, root, workdir, index)
    await StacPublisher(channel, retry_pause=0.1).rebuild(storage, root, [collection], workdir)


async def _concurrent_writers(
    catalogue: CatalogueApp, storage: Storage, root: str, workdir: pathlib.Path
) -> None:
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        await asyncio.wait_for(
            asyncio.gather(*(_writer(channel, storage, root, workdir, i) for i in range(WRITERS))), TIMEOUT
        )


def _check_tree(read: Any) -> None:
    catalog = read(static.CATALOG_KEY)
    children = sorted(link["href"] for link in catalog["links"] if link["rel"] == "child")
    assert children == ["./Aoi0/collection.json", "./Aoi1/collection.json"]
    for parity in (0, 1):
        collection = read(f"Aoi{parity}/collection.json")
        linked = sorted(link["title"] for link in collection["links"] if link["rel"] == "item")
        assert linked == [f"item-{i:02d}" for i in range(WRITERS) if i % 2 == parity]
        # The extent is the union of the items' boxes.
        west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
        firsts = [9.0 + i / 10 for i in range(WRITERS) if i % 2 == parity]
        assert west == pytest.approx(min(firsts)) and east == pytest.approx(max(firsts) + 0.1)
        assert (south, north) == (pytest.approx(55.0), pytest.approx(55.1))
        assert collection["license"] == stac_collections.LICENSE


async def test_concurrent_writers_leave_complete_files_on_local_storage(
    catalogue: CatalogueApp, tmp_path: pathlib.Path
) -> None:
    root = str(tmp_path / "storage")
    storage = open_storage(root)
    await _concurrent_writers(catalogue, storage, root, tmp_path)
    _check_tree(lambda key: json.loads((tmp_path / "storage" / key).read_text()))
    # pystac reads the tree back: every item file is reachable from the root.
    catalog = pystac.Catalog.from_file(str(tmp_path / "storage" / static.CATALOG_KEY))
    assert len(list(catalog.get_items(recursive=True))) == WRITERS


async def test_concurrent_writers_leave_complete_files_on_s3(
    catalogue: CatalogueApp, s3_endpoint: S3Endpoint, tmp_path: pathlib.Path
) -> None:
    bucket = s3_endpoint.new_bucket()
    root = f"s3://{bucket}/outputs"
    storage = open_storage(root, s3_endpoint.config())
    await _concurrent_writers(catalogue, storage, root, tmp_path)
    client = s3_endpoint.client()

    def read(key: str) -> Any:
        return json.loads(client.get_object(Bucket=bucket, Key=f"outputs/{key}")["Body"].read())

    _check_tree(read)


async def test_a_stale_writer_rebuilds_after_a_newer_commit(
    catalogue: CatalogueApp, tmp_path: pathlib.Path
) -> None:
    root = str(tmp_path / "storage")
    storage = open_storage(root)
    gated = GatedStorage(storage, "Aoi0/collection.json")
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        await _commit(channel, storage, root, tmp_path, 0)
        # Writer A snapshots {item-00} and stops before writing the collection...
        stale = asyncio.create_task(StacPublisher(channel).rebuild(gated, root, ["Aoi0"], tmp_path))
        assert await asyncio.to_thread(gated.arrived.wait, TIMEOUT)
        # ...while B commits item-02 and writes {item-00, item-02}...
        await _commit(channel, storage, root, tmp_path, 2)
        await StacPublisher(channel).rebuild(storage, root, ["Aoi0"], tmp_path)
        # ...then A writes its stale snapshot, sees the revision moved, and writes again.
        gated.release.set()
        await asyncio.wait_for(stale, TIMEOUT)
    collection = json.loads((tmp_path / "storage" / "Aoi0" / "collection.json").read_text())
    assert sorted(link["title"] for link in collection["links"] if link["rel"] == "item") == [
        "item-00",
        "item-02",
    ]


async def test_a_tile_published_again_keeps_its_earlier_assets(catalogue: CatalogueApp) -> None:
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        stub = registry_pb2_grpc.RegistryStub(channel)
        for layer, extension in (
            ("B01", "https://example.org/a.json"),
            ("B02", "https://example.org/b.json"),
        ):
            item = _item("Aoi0", 0)
            item.add_asset(layer, pystac.Asset(href=f"file:///{layer}.tif", roles=["data"]))
            item.stac_extensions = [extension]
            request = registry_pb2.IndexItemsRequest()
            request.items.add(
                collection="Aoi0", id=item.id, item_json=json.dumps(item.to_dict(include_self_link=False))
            )
            answer = await stub.IndexItems(request, timeout=TIMEOUT)
        stored = json.loads(answer.items_json[0])
        assert sorted(stored["assets"]) == ["B01", "B02"]
        assert sorted(stored["stac_extensions"]) == [
            "https://example.org/a.json",
            "https://example.org/b.json",
        ]
        found = await stub.SearchItems(registry_pb2.SearchItemsRequest(ids=["item-00"]), timeout=TIMEOUT)
        assert [json.loads(i)["assets"].keys() for i in found.items_json] == [stored["assets"].keys()]
        assert found.matched == 1


async def test_items_the_catalogue_cannot_store_are_invalid_argument(catalogue: CatalogueApp) -> None:
    async with grpc.aio.insecure_channel(catalogue.target) as channel:
        stub = registry_pb2_grpc.RegistryStub(channel)
        item = json.dumps(_item("Aoi0", 0).to_dict(include_self_link=False))
        request = registry_pb2.IndexItemsRequest()
        request.items.add(collection="Aoi0", id="item-00", record_id="not-a-uuid", item_json=item)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.IndexItems(request, timeout=TIMEOUT)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "items[0].record_id" in (caught.value.details() or "")
        deep = registry_pb2.SearchItemsRequest(intersects="[" * 100_000)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SearchItems(deep, timeout=TIMEOUT)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "intersects" in (caught.value.details() or "")
