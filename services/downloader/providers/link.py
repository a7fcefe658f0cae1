"""The scene's download link (spec §8.2 row 2, the reference's `--url-provider`).

`metadata.download_link` as the catalogue recorded it. The link comes from the catalogue, which takes it
from external catalogues or from an uploaded scenes.json: it is the payload's, so nothing it names is
trusted.

- An absolute path or `file://` URI is used in place (a zip is unarchived from where it lies, anything
  else copied) only below the configured local roots (`LINK_LOCAL_ROOTS`, plus `LOCAL_PATH`), checked
  after resolving symlinks and `..`; a folder's files are checked one by one as they are copied. With no
  root configured, local links are refused: a payload must not copy `/run/secrets/…` into a workdir
  whose products end up in storage.
- `http(s)://` is downloaded (the reference refuses it: docs/compatibility.md). The configured HTTP
  credentials go with it only when its origin (scheme, host and port) is one of the HTTP templates'.
- `s3://` and `gs://` are fetched through the storage backends, with the process' object-store settings.
- Remote links (http(s), s3, gs) must be on an allowed origin (`LINK_ALLOWED_ORIGINS`, plus the
  origins of the HTTP templates and object-store prefixes): a payload must not make the worker fetch
  internal URLs (metadata services…) or read buckets its keys open.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import urllib.parse
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from libs.http.origins import origin, place
from services.downloader.providers import http, local, objectstore, transfer
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import FailedPrecondition, NotFound
from libs.storage.config import ObjectStoreConfig

NAME = "URLImageProvider"
ROOTS_SETTING = "GEOCUBE_DOWNLOADER_LINK_LOCAL_ROOTS"
ORIGINS_SETTING = "GEOCUBE_DOWNLOADER_LINK_ALLOWED_ORIGINS"


def link_origin(url: str) -> str:
    """What a remote link is checked against: `scheme://host:port` for http(s), `scheme://bucket` for
    object stores, "" otherwise (libs.http.origins.place)."""
    return place(url)


class LinkProvider:
    name = NAME

    def __init__(
        self,
        policy: transfer.Policy,
        auth: transfer.Auth | None = None,
        auth_origins: AbstractSet[str] = frozenset(),
        config: ObjectStoreConfig | None = None,
        local_roots: Sequence[str | os.PathLike[str]] = (),
        remote_origins: AbstractSet[str] = frozenset(),
    ):
        self.policy = policy
        self.auth = auth
        # `libs.http.origins.origin` strings (scheme://host:port) our credentials are configured for.
        self.auth_origins = frozenset(auth_origins)
        self.config = config
        # Resolved once: a root given through a symlink still matches the links' resolved paths.
        self.local_roots = [pathlib.Path(os.path.realpath(root)) for root in local_roots if str(root)]
        # Origins (link_origin) remote links may name: the allowed ones and those of our credentials.
        self.remote_origins = frozenset(link_origin(o) for o in remote_origins) | self.auth_origins

    def fetch(self, product: ProductRequest, workdir: pathlib.Path) -> None:
        link = product.download_link
        if not link:
            raise NotFound(f"{NAME}: downloadLink not found in scene.metadata")
        parts = urllib.parse.urlsplit(link)
        if parts.scheme in ("http", "https", "s3", "gs") and link_origin(link) not in self.remote_origins:
            raise FailedPrecondition(
                f"{NAME}: {link_origin(link) or link!r} is not an allowed origin for download links"
                f" (allow it with {ORIGINS_SETTING})"
            )
        if parts.scheme in ("http", "https"):
            workdir.mkdir(parents=True, exist_ok=True)
            link_host = origin(link)
            auth = self.auth if link_host and link_host in self.auth_origins else None
            http.fetch_url(
                link,
                product,
                workdir,
                provider=NAME,
                auth=auth,
                policy=self.policy,
                trusted=self.auth_origins,
            )
        elif parts.scheme in ("", "file"):
            if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
                raise FailedPrecondition(
                    f"{NAME}: file:// links to another host ({parts.netloc}) are refused"
                )
            path = self.allowed_path(pathlib.Path(urllib.parse.unquote(parts.path)))
            workdir.mkdir(parents=True, exist_ok=True)
            self._use_in_place(path, product, workdir)
        elif parts.scheme in ("s3", "gs"):
            workdir.mkdir(parents=True, exist_ok=True)
            parent, _, key = link.rpartition("/")
            objectstore.fetch_object(parent, key, product, workdir, provider=NAME, config=self.config)
        else:
            raise FailedPrecondition(
                f"{NAME}: failed to determine storage strategy for {parts.scheme}:// links"
            )

    def allowed_path(self, path: pathlib.Path) -> pathlib.Path:
        """The link's real path (symlinks and `..` resolved) when it lies below a local root; else
        FailedPrecondition (not transient: the payload or the settings must change)."""
        if not self.local_roots:
            raise FailedPrecondition(
                f"{NAME}: local download links are refused ({path}): set {ROOTS_SETTING} to the folders "
                "they may point into"
            )
        if not path.is_absolute():
            raise FailedPrecondition(f"{NAME}: a local download link must be an absolute path: {path}")
        real = pathlib.Path(os.path.realpath(path))
        if not self._below_a_root(real) or real.name in ("", ".", ".."):
            raise FailedPrecondition(f"{NAME}: {path} is outside the folders of {ROOTS_SETTING}")
        if not real.exists():
            raise NotFound(f"{NAME}: Product not found or unavailable: {path}")
        return real

    def _below_a_root(self, real: pathlib.Path) -> bool:
        return any(real.is_relative_to(root) for root in self.local_roots)

    def _copy_file(self, source: str, target: str) -> object:
        # A folder below a root may hold a symlink leading out of it: each file is checked on its own.
        if not self._below_a_root(pathlib.Path(os.path.realpath(source))):
            raise FailedPrecondition(f"{NAME}: {source} leads outside the folders of {ROOTS_SETTING}")
        return shutil.copy2(source, target)

    def _use_in_place(self, path: pathlib.Path, product: ProductRequest, workdir: pathlib.Path) -> None:
        # `path` is resolved: its name is never "", "." nor "..", so `workdir / path.name` is in the workdir.
        if path.is_dir():
            local.copy_folder(path, workdir / path.name, product.cancel, self._copy_file)
        elif path.suffix.lower() == ".zip":
            local.unarchive(path, workdir, product.cancel)
        else:
            product.check_cancelled(NAME)
            shutil.copyfile(path, workdir / path.name)
