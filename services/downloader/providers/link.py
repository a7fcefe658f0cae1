"""The scene's download link (spec §8.2 row 2, the reference's `--url-provider`).

`metadata.download_link` as the catalogue recorded it: an absolute path or `file://` URI is used in place
(a zip is unarchived from where it lies, anything else copied); `http(s)://` is downloaded (the reference
refuses it: docs/compatibility.md); `s3://` and `gs://` are fetched through the storage backends. The link
comes from the catalogue, which takes it from external catalogues or from an uploaded scenes.json, so the
configured HTTP credentials go with it only when its host is one of the HTTP templates' hosts.
"""

from __future__ import annotations

import pathlib
import shutil
import urllib.parse
from collections.abc import Set as AbstractSet

from services.downloader.providers import http, local, objectstore, transfer
from services.downloader.providers.product import ProductRequest
from services.runtime.errors import FailedPrecondition, NotFound
from services.storage.config import ObjectStoreConfig

NAME = "URLImageProvider"


class LinkProvider:
    name = NAME

    def __init__(
        self,
        policy: transfer.Policy,
        auth: transfer.Auth | None = None,
        auth_hosts: AbstractSet[str] = frozenset(),
        config: ObjectStoreConfig | None = None,
    ):
        self.policy = policy
        self.auth = auth
        self.auth_hosts = set(auth_hosts)
        self.config = config

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        link = product.download_link
        if not link:
            raise NotFound(f"{NAME}: downloadLink not found in scene.metadata")
        parts = urllib.parse.urlsplit(link)
        workdir.mkdir(parents=True, exist_ok=True)
        if parts.scheme in ("http", "https"):
            auth = self.auth if parts.hostname in self.auth_hosts else None
            http.fetch_url(link, product, workdir, provider=NAME, auth=auth, policy=self.policy)
        elif parts.scheme in ("", "file"):
            _use_in_place(pathlib.Path(urllib.parse.unquote(parts.path)), workdir)
        elif parts.scheme in ("s3", "gs"):
            parent, _, key = link.rpartition("/")
            objectstore.fetch_object(parent, key, product, workdir, provider=NAME, config=self.config)
        else:
            raise FailedPrecondition(
                f"{NAME}: failed to determine storage strategy for {parts.scheme}:// links"
            )


def _use_in_place(path: pathlib.Path, workdir: pathlib.Path) -> None:
    if not path.is_absolute() or not path.exists():
        raise NotFound(f"{NAME}: Product not found or unavailable: {path}")
    if path.is_dir():
        shutil.copytree(path, workdir / path.name, dirs_exist_ok=True)
    elif path.suffix.lower() == ".zip":
        local.unarchive(path, workdir)
    else:
        shutil.copyfile(path, workdir / path.name)
