"""Settings of the downloader process (env prefix GEOCUBE_DOWNLOADER_).

Providers are enabled by their settings (spec §8.2: only configured ones are used). Secrets come from the
environment or, better in a cluster, from a file named by the `*_FILE` twin of the variable (a mounted
Kubernetes secret): `GEOCUBE_DOWNLOADER_COPERNICUS_PASSWORD_FILE=/run/secrets/cdse`. Secret fields are
left out of the dataclass repr so that logging the settings never prints them.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import ClassVar

from libs.runtime.errors import InvalidArgument
from libs.worker.settings import WorkerSettings

PREFIX = "GEOCUBE_DOWNLOADER_"


@dataclasses.dataclass(frozen=True)
class DownloaderSettings(WorkerSettings):
    PREFIX: ClassVar[str] = PREFIX

    address: str = "127.0.0.1:50052"
    # 1. Local archive root (`<root>/<YYYY>/<MM>/<DD>/<scene>.zip`, `<root>/<scene>.zip`, `<scene>.SAFE/`).
    local_path: str = ""
    # 2. The scene's `metadata.download_link` (http(s)://, file://, s3://, gs://), as the reference's
    #    `--url-provider`. Our credentials are never sent with it unless its origin (scheme, host, port)
    #    is one of http_urls'.
    url_provider: bool = False
    # Folders a local (absolute path, file://) download link may point into, besides local_path; links
    # are checked once symlinks and `..` are resolved. None (and no local_path): local links are refused.
    link_local_roots: tuple[str, ...] = ()
    # Remote origins a download link may name ("https://host[:port]", "s3://bucket", "gs://bucket"),
    # besides those of HTTP_URLS and OBJECT_STORE_PREFIXES. A link elsewhere is refused: the payload must
    # not make the worker fetch internal URLs or read other buckets with its keys.
    link_allowed_origins: tuple[str, ...] = ()
    # 3. HTTP(S) URL templates tried in order, `{SCENE}`, `{YEAR}`… placeholders (docs/providers.md).
    http_urls: tuple[str, ...] = ()
    # Auth for the hosts of http_urls only: a bearer token, or basic auth (username + password).
    http_bearer_token: str = dataclasses.field(default="", repr=False)
    http_bearer_token_file: str = ""
    http_username: str = ""
    http_password: str = dataclasses.field(default="", repr=False)
    http_password_file: str = ""
    # 4. Object-storage prefixes (s3://bucket/path/{YEAR}, gs://…, file://…) holding `<scene>.zip`.
    object_store_prefixes: tuple[str, ...] = ()
    # 5. Copernicus Data Space Ecosystem: enabled by a username (password grant, client cdse-public).
    copernicus_username: str = ""
    copernicus_password: str = dataclasses.field(default="", repr=False)
    copernicus_password_file: str = ""
    copernicus_token_url: str = (
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
    )
    copernicus_client_id: str = "cdse-public"
    # `{UUID}` = the product Id (scene metadata `uuid`, else looked up by Name in the catalogue below).
    copernicus_download_url: str = "https://zipper.dataspace.copernicus.eu/odata/v1/Products({UUID})/$value"
    copernicus_catalogue_url: str = "https://catalogue.dataspace.copernicus.eu/odata/v1/Products"
    # Other CDSE origins a download may be redirected to that get the token too (besides the download
    # and catalogue URLs' own); a redirect anywhere else drops it.
    copernicus_redirect_urls: tuple[str, ...] = ("https://download.dataspace.copernicus.eu",)
    # Transfers: a broken body is resumed (HTTP Range) up to this many times per transfer (one URL).
    download_resume_attempts: int = 3
    # First pause before a resume or retry, doubled each time (seconds).
    download_retry_pause_seconds: float = 1.0
    # Longest Retry-After (429/503) honoured; a longer one fails the provider as transient at once.
    download_retry_after_max_seconds: float = 120.0
    # Connect and read timeout of one HTTP exchange (seconds without a byte).
    download_timeout_seconds: float = 60.0

    def check(self) -> None:
        super().check()
        if not (
            self.local_path.strip()
            or self.url_provider
            or self.http_urls
            or self.object_store_prefixes
            or self.copernicus_username
        ):
            raise InvalidArgument(
                PREFIX + "LOCAL_PATH",
                "no image providers defined: set LOCAL_PATH, URL_PROVIDER, HTTP_URLS, "
                "OBJECT_STORE_PREFIXES or COPERNICUS_USERNAME",
            )
        if self.http_username and not self.secret("http_password"):
            raise InvalidArgument(PREFIX + "HTTP_PASSWORD", "required with HTTP_USERNAME")
        if self.copernicus_username and not self.secret("copernicus_password"):
            raise InvalidArgument(PREFIX + "COPERNICUS_PASSWORD", "required with COPERNICUS_USERNAME")
        for root in self.link_local_roots:
            if not pathlib.Path(root).is_absolute():
                raise InvalidArgument(PREFIX + "LINK_LOCAL_ROOTS", f"{root!r} is not an absolute path")
        if self.download_resume_attempts < 0:
            raise InvalidArgument(PREFIX + "DOWNLOAD_RESUME_ATTEMPTS", "must not be negative")

    def archive_folders(self) -> list[str]:
        return [folder for folder in (self.local_path, *self.link_local_roots) if folder]

    def secret(self, name: str) -> str:
        """The secret `name`, from its `<name>_file` when one is set (trailing newline dropped)."""
        path = getattr(self, name + "_file", "")
        if path:
            try:
                return pathlib.Path(path).read_text().rstrip("\r\n")
            except OSError as exc:
                # The path is not secret, the content is: name the file, never echo what it holds.
                raise InvalidArgument(
                    PREFIX + (name + "_file").upper(), f"cannot read: {exc.strerror}"
                ) from None
        return str(getattr(self, name))
