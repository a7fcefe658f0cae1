"""Settings of the object stores (s3://, gs://), gathered from the process settings.

Credentials come from here or from the provider's standard chain (AWS: environment variables, shared
credentials file, web identity, instance roles; Google: application default credentials); never from
payloads. They are kept out of `repr` so that logging a settings object never shows them.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any

from libs.runtime.errors import InvalidArgument
from libs.storage.durability import DEFAULT_SYNC, SYNC_MODES

_ADDRESSING_STYLES = ("", "auto", "path", "virtual")
# S3's floor for every part but the last (s3transfer enforces it too).
MIN_PART_SIZE = 5 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ObjectStoreSettings:
    """How a process reaches s3:// and gs://: the settings of every process that does (workers and
    catalogue) inherit these fields, hence the same variables under each prefix (`…_S3_ENDPOINT_URL`).
    The default (nothing set) uses AWS's defaults for s3:// and Google's application default
    credentials for gs://."""

    # s3://: "" = AWS (endpoint from the region); set it for MinIO, Ceph, moto or another S3 service.
    s3_endpoint_url: str = ""
    # s3://: "" = the AWS chain (AWS_REGION / AWS_DEFAULT_REGION / profile).
    s3_region: str = ""
    # s3://: "path" (https://host/bucket/key), "virtual" (https://bucket.host/key) or ""/"auto".
    s3_addressing_style: str = ""
    # s3://: explicit keys; both empty = the AWS chain.
    s3_access_key_id: str = dataclasses.field(default="", repr=False)
    s3_secret_access_key: str = dataclasses.field(default="", repr=False)
    # gs://: "" = https://storage.googleapis.com (set it only for tests or a proxy).
    gs_endpoint_url: str = ""
    # gs://: a service-account key file (JSON) or its content; both empty = application default
    # credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the metadata server on GCP).
    gs_service_account_file: str = ""
    gs_service_account_key: str = dataclasses.field(default="", repr=False)
    # gs://: unsigned requests, which only public buckets answer (no credentials looked for at all).
    gs_anonymous: bool = False
    # gs://, kept for deployments configured before native credentials (docs/compatibility.md S25): an
    # HMAC key sends gs:// through Google's S3-interoperable XML API instead.
    gs_hmac_access_key_id: str = dataclasses.field(default="", repr=False)
    gs_hmac_secret: str = dataclasses.field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class ObjectStoreConfig(ObjectStoreSettings):
    """What the storage backends take: the connection settings and the transfer tuning."""

    # Files above this size are sent as a multipart upload (bytes, at least 5 MiB per part).
    storage_multipart_threshold: int = 64 * 1024 * 1024
    # Attempts of one request (obstore retries 5xx, dropped connections and timeouts with backoff).
    max_attempts: int = 5
    # Local storage: "filesystem" (shared syncfs barriers) or "files" (fsync per file and folder);
    # libs/storage/durability.py.
    storage_sync: str = DEFAULT_SYNC

    @classmethod
    def from_settings(cls, settings: Any) -> ObjectStoreConfig:
        """Copies the fields of the same names from a process settings object (those it has)."""
        names = [field.name for field in dataclasses.fields(cls) if hasattr(settings, field.name)]
        return cls(**{name: getattr(settings, name) for name in names})

    def check(self, prefix: str = "") -> None:
        """Raises InvalidArgument naming `<prefix><FIELD>` (the environment variable) of a bad value."""

        def fail(name: str, reason: str) -> InvalidArgument:
            return InvalidArgument(prefix + name.upper() if prefix else name, reason)

        for name in ("s3_endpoint_url", "gs_endpoint_url"):
            value = getattr(self, name)
            parsed = urllib.parse.urlsplit(value)
            if value and (parsed.scheme not in ("http", "https") or not parsed.hostname):
                raise fail(name, f"expected an http(s):// URL, got {value!r}")
        if self.s3_addressing_style not in _ADDRESSING_STYLES:
            raise fail(
                "s3_addressing_style", f"expected path, virtual or auto, got {self.s3_addressing_style!r}"
            )
        # A lone half of a key pair is a configuration mistake, not a request for the default chain.
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise fail(
                "s3_secret_access_key", "set both s3_access_key_id and s3_secret_access_key, or neither"
            )
        if bool(self.gs_hmac_access_key_id) != bool(self.gs_hmac_secret):
            raise fail("gs_hmac_secret", "set both gs_hmac_access_key_id and gs_hmac_secret, or neither")
        # One way to reach Google at a time: a second one would be silently ignored.
        gs_ways = [
            name
            for name, value in (
                ("gs_service_account_file", self.gs_service_account_file),
                ("gs_service_account_key", self.gs_service_account_key),
                ("gs_hmac_access_key_id", self.gs_hmac_access_key_id),
                ("gs_anonymous", self.gs_anonymous),
            )
            if value
        ]
        if len(gs_ways) > 1:
            raise fail(gs_ways[1], f"set only one of {', '.join(gs_ways)}")
        if self.gs_service_account_file:
            try:
                with open(self.gs_service_account_file, encoding="utf-8") as file:
                    _check_service_account(file.read())
            except (OSError, ValueError) as exc:
                raise fail("gs_service_account_file", f"{self.gs_service_account_file}: {exc}") from None
        if self.gs_service_account_key:
            try:
                _check_service_account(self.gs_service_account_key)
            except ValueError as exc:
                raise fail("gs_service_account_key", str(exc)) from None
        if self.max_attempts < 1:
            raise fail("max_attempts", f"must be at least 1, got {self.max_attempts}")
        if self.storage_sync not in SYNC_MODES:
            raise fail("storage_sync", f"expected one of {', '.join(SYNC_MODES)}, got {self.storage_sync!r}")
        if self.storage_multipart_threshold < MIN_PART_SIZE:
            raise fail("storage_multipart_threshold", f"must be at least {MIN_PART_SIZE} bytes (5 MiB)")


def _check_service_account(text: str) -> None:
    """A service-account key as Google issues it (the fields the GCS client signs with); the error
    never quotes the content, which holds the private key."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError("not a JSON service-account key") from None
    missing = [
        name
        for name in ("client_email", "private_key")
        if not isinstance(document, dict) or not document.get(name)
    ]
    if missing:
        raise ValueError(f"not a service-account key (no {', '.join(missing)})")
