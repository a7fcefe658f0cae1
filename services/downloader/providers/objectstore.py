"""Object-storage prefixes holding products (the Google Storage row of spec §8.2, for s3:// and gs://).

`GEOCUBE_DOWNLOADER_OBJECT_STORE_PREFIXES=s3://products/sentinel2/{YEAR}/{MONTH},gs://mirror/{MISSION_ID}`:
each prefix (placeholders as for HTTP templates) is opened with `libs.storage.open_storage`, so
file:// roots work too, and `<scene>.zip` then `<scene>.SAFE.zip` are looked for below it. The object is
copied by the storage backend (obstore for s3/gs: one streamed GET) to a temporary name in the
workdir, checked against the catalogue's size and checksums, renamed, then unarchived.
Credentials are the object-store settings of the process (libs/storage/config.py), never payloads.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Sequence

from services.downloader.providers import http, transfer
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import IngesterError, NotFound, Unavailable
from libs.storage import open_storage
from libs.storage.config import ObjectStoreConfig

logger = logging.getLogger(__name__)

NAME = "ObjectStoreProvider"
_READ_CHUNK = 1 << 20


def _verify(path: pathlib.Path, product: ProductRequest, uri: str, provider: str) -> None:
    """Size and checksums of the copy, read back in chunks (the backend copies without telling us)."""
    size = path.stat().st_size
    if product.size is not None and size != product.size:
        raise Unavailable(f"{provider}: {uri} has {size} bytes, the catalogue says {product.size}")
    hashers = transfer.make_hashers(product.checksums)
    if hashers:
        with path.open("rb") as file:
            while chunk := file.read(_READ_CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
                product.check_cancelled(provider)
    for algorithm, hasher in hashers.items():
        if hasher.hexdigest() != product.checksums[algorithm]:
            raise Unavailable(f"{provider}: {algorithm} checksum mismatch for {uri}: the copy is corrupt")


def fetch_object(
    root: str,
    key: str,
    product: ProductRequest,
    workdir: pathlib.Path,
    *,
    provider: str,
    config: ObjectStoreConfig | None = None,
) -> None:
    """Copies `<root>/<key>` into the workdir, verified, and unarchives it; NotFound when missing.

    The backend's copy is one call that cannot be interrupted: a cancelled task stops before and after
    it, while verifying and while unarchiving."""
    product.check_cancelled(provider)
    storage = open_storage(root, config)
    destination = workdir / (product.source_id + (pathlib.PurePosixPath(key).suffix or ".zip"))
    partial = destination.with_name(f".{destination.name}.partial")
    uri = storage.uri(key)
    try:
        product.report(provider, 0, product.size)
        try:
            storage.get_file(key, partial)
        except NotFound as exc:
            raise NotFound(f"{provider}: product not found: {uri}") from exc
        product.check_cancelled(provider)
        _verify(partial, product, uri, provider)
        os.replace(partial, destination)
        product.report(provider, destination.stat().st_size, destination.stat().st_size)
    finally:
        partial.unlink(missing_ok=True)
    transfer.unpack(destination, workdir, product)


class ObjectStoreProvider:
    name = NAME

    def __init__(self, prefixes: Sequence[str], config: ObjectStoreConfig | None = None):
        self.prefixes = list(prefixes)
        self.config = config

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        failures: list[BaseException] = []
        workdir.mkdir(parents=True, exist_ok=True)
        names = [f"{product.source_id}.zip", f"{product.source_id}.SAFE.zip"]
        for template in self.prefixes:
            try:
                # Placeholder values are not URL-quoted here: a storage prefix is a path, not a URL.
                root = http.render(template, product, quote=False).rstrip("/")
                for name in names:
                    try:
                        fetch_object(root, name, product, workdir, provider=NAME, config=self.config)
                        return
                    except NotFound as exc:
                        failures.append(exc)
            except transfer.Cancelled:
                raise
            except NotFound as exc:
                failures.append(NotFound(f"{NAME}: {template}: {exc}"))
            except (IngesterError, OSError) as exc:
                logger.info("%s: %s", NAME, exc)
                failures.append(exc)
        raise http.merged_failure(failures)
