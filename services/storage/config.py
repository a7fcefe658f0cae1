"""Settings of the object stores (s3://, gs://), gathered from the process settings.

Credentials come from here or, for s3:// only, from the standard AWS chain (environment variables,
shared config/credentials files, instance roles); never from payloads. They are kept out of `repr`
so that logging a settings object never shows them.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

from services.runtime.errors import InvalidArgument

_ADDRESSING_STYLES = ("", "auto", "path", "virtual")
# S3's floor for every part but the last (s3transfer enforces it too).
MIN_PART_SIZE = 5 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ObjectStoreSettings:
    """How a process reaches s3:// and gs://: the settings of every process that does (workers and
    catalogue) inherit these fields, hence the same variables under each prefix (`…_S3_ENDPOINT_URL`).
    The default (nothing set) uses AWS's defaults for s3:// and anonymous access to Google for gs://."""

    # s3://: "" = AWS (endpoint from the region); set it for MinIO, Ceph, moto or another S3 service.
    s3_endpoint_url: str = ""
    # s3://: "" = the AWS chain (AWS_REGION / AWS_DEFAULT_REGION / profile).
    s3_region: str = ""
    # s3://: "path" (https://host/bucket/key), "virtual" (https://bucket.host/key) or ""/"auto".
    s3_addressing_style: str = ""
    # s3://: explicit keys; both empty = the AWS chain.
    s3_access_key_id: str = dataclasses.field(default="", repr=False)
    s3_secret_access_key: str = dataclasses.field(default="", repr=False)
    # gs://: "" = https://storage.googleapis.com (Google's S3-interoperable XML API).
    gs_endpoint_url: str = ""
    # gs://: HMAC key of a service account (Cloud Storage > Settings > Interoperability); both empty =
    # unsigned requests, which only public buckets answer.
    gs_hmac_access_key_id: str = dataclasses.field(default="", repr=False)
    gs_hmac_secret: str = dataclasses.field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class ObjectStoreConfig(ObjectStoreSettings):
    """What the storage backends take: the connection settings and the transfer tuning."""

    # Files above this size are sent as a multipart upload (bytes, at least 5 MiB per part).
    storage_multipart_threshold: int = 64 * 1024 * 1024
    # Attempts of one request (botocore retries throttling, 5xx and dropped connections with backoff).
    max_attempts: int = 5

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
        if self.max_attempts < 1:
            raise fail("max_attempts", f"must be at least 1, got {self.max_attempts}")
        if self.storage_multipart_threshold < MIN_PART_SIZE:
            raise fail("storage_multipart_threshold", f"must be at least {MIN_PART_SIZE} bytes (5 MiB)")
