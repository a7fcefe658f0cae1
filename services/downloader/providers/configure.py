"""The provider chain from the settings, in the order of spec §8.2 (only configured providers):

1. local archive   2. the scene's download link   3. HTTP(S) URL templates   4. object-store prefixes
5. Copernicus Data Space. The reference's FTP, PEPS and ASF rows are covered by the HTTP templates (an
ASF template with a bearer token, say), its Google Storage row by the object-store prefixes.
"""

from __future__ import annotations

import pathlib
from typing import Any

from services.downloader.providers import copernicus, http, link, local, objectstore, transfer
from services.downloader.settings import DownloaderSettings
from libs.storage.config import ObjectStoreConfig


def policy(settings: DownloaderSettings) -> transfer.Policy:
    return transfer.Policy(
        resume_attempts=settings.download_resume_attempts,
        retry_pause=settings.download_retry_pause_seconds,
        retry_after_max=settings.download_retry_after_max_seconds,
        timeout=settings.download_timeout_seconds,
    )


def _object_store_config(settings: DownloaderSettings) -> ObjectStoreConfig:
    # The same object-store settings as the worker's storage (s3/gs endpoints and keys).
    return settings.object_store()


def build(settings: DownloaderSettings) -> list[Any]:
    transfers = policy(settings)
    http_auth = http.StaticAuth(
        bearer=settings.secret("http_bearer_token"),
        username=settings.http_username,
        password=settings.secret("http_password") if settings.http_username else "",
    )
    http_provider = (
        http.HttpProvider(settings.http_urls, http_auth, transfers) if settings.http_urls else None
    )
    providers: list[Any] = []
    if settings.local_path:
        providers.append(local.LocalProvider(pathlib.Path(settings.local_path)))
    if settings.url_provider:
        origins = http_provider.origins() if http_provider else frozenset()
        # The local archive's products are readable by the local provider already: links may use them.
        roots = [*settings.link_local_roots, *([settings.local_path] if settings.local_path.strip() else [])]
        providers.append(
            link.LinkProvider(
                transfers,
                http_auth,
                origins,
                _object_store_config(settings),
                local_roots=roots,
                remote_origins={*settings.link_allowed_origins, *settings.object_store_prefixes},
            )
        )
    if http_provider:
        providers.append(http_provider)
    if settings.object_store_prefixes:
        providers.append(
            objectstore.ObjectStoreProvider(settings.object_store_prefixes, _object_store_config(settings))
        )
    if settings.copernicus_username:
        auth = copernicus.CdseAuth(
            settings.copernicus_token_url,
            settings.copernicus_username,
            settings.secret("copernicus_password"),
            client_id=settings.copernicus_client_id,
            timeout=settings.download_timeout_seconds,
        )
        providers.append(
            copernicus.CopernicusProvider(
                auth,
                settings.copernicus_download_url,
                settings.copernicus_catalogue_url,
                transfers,
                redirect_urls=settings.copernicus_redirect_urls,
            )
        )
    return providers
