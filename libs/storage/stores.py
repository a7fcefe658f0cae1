"""obstore stores built from the object-store settings: one per (scheme, bucket, settings) per process.

- `s3://` → `S3Store`: explicit keys, else AWS's chain as object_store implements it (AWS_* variables,
  web identity, ECS container and EC2 instance credentials), plus the static profiles of the shared
  credentials file (`AWS_PROFILE`), which object_store does not read and boto3 did.
- `gs://` → `GCSStore` on Google's own credentials: a service-account key (file or content), else
  application default credentials; or unsigned requests (`gs_anonymous`).
- `gs://` with an HMAC key → `S3Store` on Google's S3-interoperable XML API: the path of the settings
  made before native credentials (docs/compatibility.md S25).

Building a store makes no network call: credentials are looked for on the first request.
"""

from __future__ import annotations

import configparser
import datetime as dt
import functools
import os
import pathlib
import urllib.parse
from typing import TYPE_CHECKING, Any

from obstore.store import GCSStore, S3Store

from libs.storage.config import ObjectStoreConfig

if TYPE_CHECKING:  # obstore's typed dicts exist only in its stubs
    from obstore.store import ClientConfig, RetryConfig

GOOGLE_ENDPOINT = "https://storage.googleapis.com"


def _client_options(endpoint: str) -> ClientConfig:
    return {
        "connect_timeout": "10s",
        # No byte for that long is a stall (botocore's read_timeout was the same).
        "read_timeout": "60s",
        # The whole of one request, body included: a multi-GB GET streams for minutes.
        "timeout": "6h",
        # object_store refuses plain http unless told: an http:// endpoint is a deliberate setting.
        "allow_http": endpoint.startswith("http://"),
    }


def _retry(config: ObjectStoreConfig) -> RetryConfig:
    return {"max_retries": config.max_attempts - 1, "retry_timeout": dt.timedelta(minutes=3)}


def _static(access_key_id: str, secret: str, token: str | None = None) -> Any:
    """A credential provider that returns fixed keys: it replaces object_store's chain as a whole, so
    nothing from the environment (an AWS_SESSION_TOKEN, say) is added to them."""
    credential = {
        "access_key_id": access_key_id,
        "secret_access_key": secret,
        "token": token,
        "expires_at": None,
    }
    return lambda: credential


def shared_file_profile(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, str]:
    """Keys (and region) of the AWS profile in the shared credentials/config files, when the
    environment names none itself; {} otherwise. Only static profiles: SSO, role and process profiles
    are not supported (docs/storage.md)."""
    env = os.environ if environ is None else environ
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return {}  # object_store's own chain reads these
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    home = pathlib.Path(env.get("HOME", "~")).expanduser()
    found: dict[str, str] = {}
    credentials = configparser.ConfigParser(interpolation=None)
    credentials.read(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    if credentials.has_section(profile):
        section = credentials[profile]
        for name in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
            if section.get(name):
                found[name] = section[name]
    settings = configparser.ConfigParser(interpolation=None)
    settings.read(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    section_name = profile if profile == "default" else f"profile {profile}"
    if settings.has_section(section_name) and settings[section_name].get("region"):
        found["region"] = settings[section_name]["region"]
    return found


def _s3_store(bucket: str, config: ObjectStoreConfig) -> S3Store:
    endpoint = config.s3_endpoint_url.rstrip("/")
    style = config.s3_addressing_style or "auto"
    # auto: virtual-hosted on AWS (its recommended form) unless a dot in the name would break the TLS
    # certificate; path-style on other services (MinIO, Ceph, moto…), which nearly all expect it.
    virtual = style == "virtual" or (style == "auto" and not endpoint and "." not in bucket)
    options: dict[str, Any] = {"virtual_hosted_style_request": virtual}
    if endpoint:
        if virtual:  # object_store wants the bucket in a virtual-hosted endpoint
            parts = urllib.parse.urlsplit(endpoint)
            endpoint = parts._replace(netloc=f"{bucket}.{parts.netloc}").geturl()
        options["endpoint"] = endpoint
    profile: dict[str, str] = {}
    provider = None
    if config.s3_access_key_id:
        provider = _static(config.s3_access_key_id, config.s3_secret_access_key)
    else:
        profile = shared_file_profile()
        if profile.get("aws_access_key_id") and profile.get("aws_secret_access_key"):
            provider = _static(
                profile["aws_access_key_id"],
                profile["aws_secret_access_key"],
                profile.get("aws_session_token"),
            )
    region = config.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = region or profile.get("region")
    if region:
        options["region"] = region
    return S3Store(
        bucket,
        client_options=_client_options(endpoint),
        retry_config=_retry(config),
        credential_provider=provider,
        **options,
    )


def _gs_hmac_store(bucket: str, config: ObjectStoreConfig) -> S3Store:
    endpoint = (config.gs_endpoint_url or GOOGLE_ENDPOINT).rstrip("/")
    return S3Store(
        bucket,
        endpoint=endpoint,
        # Google's XML API ignores the region of SigV4 signatures; "auto" is what its docs use.
        region="auto",
        virtual_hosted_style_request=False,
        client_options=_client_options(endpoint),
        retry_config=_retry(config),
        credential_provider=_static(config.gs_hmac_access_key_id, config.gs_hmac_secret),
    )


def gcs_options(config: ObjectStoreConfig) -> dict[str, Any]:
    """The GCSStore configuration the settings give (what the tests check without reaching Google)."""
    options: dict[str, Any] = {}
    if config.gs_endpoint_url:
        options["base_url"] = config.gs_endpoint_url.rstrip("/")
    if config.gs_service_account_file:
        options["service_account"] = config.gs_service_account_file
    elif config.gs_service_account_key:
        options["service_account_key"] = config.gs_service_account_key
    elif config.gs_anonymous:
        options["skip_signature"] = True
    # Nothing set: object_store's application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
    # gcloud's file, then the metadata server). AWS variables are never read for Google.
    return options


def _gcs_store(bucket: str, config: ObjectStoreConfig) -> GCSStore:
    return GCSStore(
        bucket,
        client_options=_client_options(config.gs_endpoint_url),
        retry_config=_retry(config),
        **gcs_options(config),
    )


@functools.lru_cache(maxsize=64)
def store_for(scheme: str, bucket: str, config: ObjectStoreConfig) -> S3Store | GCSStore:
    """The process's store for one bucket. Stores are thread-safe and pool their connections, so they
    are shared (workers open the storage of every task); the bound keeps a process that reads many
    buckets from piling them up."""
    config.check()
    if scheme == "gs":
        return _gs_hmac_store(bucket, config) if config.gs_hmac_access_key_id else _gcs_store(bucket, config)
    return _s3_store(bucket, config)
