"""Object storage over the S3 protocol: `s3://bucket[/prefix]` on AWS or any S3 service (MinIO, Ceph,
moto…), and `gs://bucket[/prefix]` through Google Cloud Storage's S3-interoperable XML API.

gs:// goes through the same code with Google's endpoint and an HMAC key (google-cloud-storage would
drag grpcio/protobuf versions that conflict with our pins). Transfers use boto3's transfer manager:
files stream from and to disk in bounded parts, a file above the multipart threshold is sent as a
multipart upload that is completed only once every part is stored (and aborted on error), so a reader
sees either no object or the whole one. Downloads land in a temporary file renamed into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from services.runtime.errors import (
    FailedPrecondition,
    IngesterError,
    InvalidArgument,
    NotFound,
    Unavailable,
    exception_chain,
)
from services.storage.backend import StorageAccessDenied, check_key
from services.storage.config import MIN_PART_SIZE, ObjectStoreConfig

GOOGLE_ENDPOINT = "https://storage.googleapis.com"
SCHEMES = ("s3", "gs")
# Parts stay small enough to bound memory (s3transfer keeps a few in flight) and large enough that a
# multi-GB product needs a few hundred parts at most (s3transfer grows them past the 10,000-part cap).
_MAX_PART_SIZE = 16 * 1024 * 1024
# Bucket names of both S3 and GCS (3-63 characters; GCS allows up to 222 with dots, and underscores).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
# Error codes S3 and GCS answer when the credentials or the bucket policy refuse us.
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AccountProblem",
        "UserSuspended",
    }
)
# Codes of transient refusals (besides every 5xx and 429): another try later may succeed.
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}
)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


@dataclasses.dataclass(frozen=True)
class BucketLocation:
    """`<scheme>://<bucket>[/<prefix>]`: where objects live; the prefix has no leading/trailing `/`."""

    scheme: str
    bucket: str
    prefix: str = ""

    @property
    def root_uri(self) -> str:
        return f"{self.scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def full_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        # Object URIs are not percent-encoded: this is how gsutil, the aws CLI and the Geocube write them.
        return f"{self.scheme}://{self.bucket}/{self.full_key(key)}"


def parse_location(uri: str, field: str = "storage_uri") -> BucketLocation:
    """Parses `s3://bucket[/prefix]` or `gs://bucket[/prefix]`; raises InvalidArgument(field, …)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in SCHEMES:
        raise InvalidArgument(field, f"{uri!r} is not an s3:// or gs:// URI")
    if not parsed.netloc:
        raise InvalidArgument(field, f"{uri!r} names no bucket ({parsed.scheme}://bucket[/prefix])")
    if not _BUCKET.fullmatch(parsed.netloc):
        raise InvalidArgument(field, f"{parsed.netloc!r} is not a valid bucket name in {uri!r}")
    if parsed.query or parsed.fragment or "\x00" in uri or "\\" in uri:
        raise InvalidArgument(field, f"{uri!r} must not have a query, a fragment, NUL or '\\'")
    prefix = parsed.path.strip("/")
    # A prefix made of `.`/`..`/empty segments would alias or escape other prefixes of the bucket.
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise InvalidArgument(field, f"{uri!r} has an empty, '.' or '..' path segment")
    return BucketLocation(parsed.scheme, parsed.netloc, prefix)


# One client per (scheme, settings) per process. boto3 clients are thread-safe and each holds a connection
# pool that is only freed by the cycle collector: a client per task (workers open the storage of every
# task) piled them up.
_CLIENTS: dict[tuple[str, ObjectStoreConfig], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(scheme: str, config: ObjectStoreConfig) -> Any:
    with _CLIENTS_LOCK:
        client = _CLIENTS.get((scheme, config))
        if client is None:
            client = _CLIENTS[(scheme, config)] = make_client(scheme, config)
        return client


def make_client(scheme: str, config: ObjectStoreConfig) -> Any:
    """A new boto3 S3 client for `scheme`; callers use `shared_client`."""
    options: dict[str, Any] = {
        "connect_timeout": 10,
        "read_timeout": 60,
        # botocore retries throttling, 5xx and dropped connections itself before we see an error.
        "retries": {"mode": "standard", "total_max_attempts": config.max_attempts},
    }
    config.check()
    endpoint: str | None
    region: str | None
    if scheme == "gs":
        endpoint = config.gs_endpoint_url or GOOGLE_ENDPOINT
        session = boto3.session.Session(
            aws_access_key_id=config.gs_hmac_access_key_id or None,
            aws_secret_access_key=config.gs_hmac_secret or None,
        )
        # Google's XML API ignores the region in SigV4 signatures; "auto" is what its docs use.
        region = "auto"
        options["s3"] = {"addressing_style": "path"}
        if not config.gs_hmac_access_key_id:
            # Never fall back to the AWS chain for Google: AWS keys would be sent to another provider.
            options["signature_version"] = botocore.UNSIGNED
    else:
        endpoint = config.s3_endpoint_url or None
        session = boto3.session.Session(
            aws_access_key_id=config.s3_access_key_id or None,
            aws_secret_access_key=config.s3_secret_access_key or None,
        )
        region = config.s3_region or None
        if config.s3_addressing_style:
            options["s3"] = {"addressing_style": config.s3_addressing_style}
    if endpoint is not None:
        # Recent botocore adds CRC trailers (aws-chunked bodies) that Google's XML API and many S3
        # services reject; checksums are then sent only where the API requires them.
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return session.client(
        "s3", endpoint_url=endpoint, region_name=region, config=botocore.config.Config(**options)
    )


def translate(exc: BaseException, *, bucket: str, uri: str) -> IngesterError | None:
    """The error-table class of a boto3/botocore failure (searched along the cause chain, since boto3
    wraps some in its own errors), or None when it is not a store error.

    Messages name the bucket and the object, never the credentials (botocore's texts do not hold them)."""
    for item in exception_chain(exc):
        if isinstance(item, IngesterError):
            return None  # already one of ours (raised by a progress callback, say): keep it as is
        if isinstance(item, botocore.exceptions.ClientError):
            error = item.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(item.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            # A HEAD answer has no body, so its "code" is just the status again.
            what = f"HTTP {status}" if code in ("", str(status)) else f"{code}, HTTP {status}"
            if code in _NOT_FOUND_CODES or status == 404:
                if code == "NoSuchBucket":
                    return NotFound(f"File not found: {uri} (bucket {bucket!r} does not exist)")
                return NotFound(f"File not found: {uri}")
            if code in _DENIED_CODES or status in (401, 403):
                return StorageAccessDenied(
                    f"access denied to bucket {bucket!r} ({uri}): {what}; check the credentials and the "
                    "bucket's permissions (a missing object also answers 403 without list permission)"
                )
            if code in _TRANSIENT_CODES or status == 429 or status >= 500:
                return Unavailable(f"{uri}: object store temporarily unavailable ({what})")
            return FailedPrecondition(f"{uri}: object store refused the request ({what})")
        if isinstance(
            item,
            (
                botocore.exceptions.NoCredentialsError,
                botocore.exceptions.PartialCredentialsError,
                botocore.exceptions.CredentialRetrievalError,
            ),
        ):
            return StorageAccessDenied(
                f"no usable credentials for bucket {bucket!r} ({uri}): {type(item).__name__}"
            )
        if isinstance(item, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
            return Unavailable(f"{uri}: object store unreachable ({type(item).__name__}: {item})")
    return None


class S3Storage:
    """Objects `<prefix>/<key>` of one bucket, reached through the S3 protocol (s3:// or gs://)."""

    def __init__(self, location: BucketLocation, config: ObjectStoreConfig | None = None):
        config = config or ObjectStoreConfig()
        config.check()
        self.location = location
        self._config = config
        # Created on first use (~0.1 s each): opening a storage only to name URIs costs nothing.
        self._client_instance: Any = None
        self._client_lock = threading.Lock()
        threshold = config.storage_multipart_threshold
        self._transfer = TransferConfig(
            multipart_threshold=threshold,
            multipart_chunksize=max(MIN_PART_SIZE, min(threshold, _MAX_PART_SIZE)),
            max_concurrency=4,
            use_threads=True,
            # The classic (pure Python) transfer manager: the CRT one, when installed, behaves differently.
            preferred_transfer_client="classic",
        )

    def __repr__(self) -> str:
        return f"S3Storage({self.location.root_uri!r})"

    @property
    def _client(self) -> Any:
        with self._client_lock:
            if self._client_instance is None:
                self._client_instance = shared_client(self.location.scheme, self._config)
            return self._client_instance

    @contextlib.contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        """Re-raises store failures as error-table classes (the boto3 error stays as the cause)."""
        try:
            yield
        except Exception as exc:
            mapped = translate(exc, bucket=self.location.bucket, uri=self.uri(key))
            if mapped is None:
                raise
            raise mapped from exc

    def uri(self, key: str) -> str:
        return self.location.uri(key)

    def put_file(
        self, local_path: pathlib.Path, key: str, *, progress: Callable[[int], None] | None = None
    ) -> str:
        """Uploads `local_path` as `key`; `progress` receives byte counts as parts are sent (may raise to
        abandon the upload, which is then aborted: nothing is left in the bucket)."""
        full_key = self.location.full_key(key)
        # botocore wraps (and retries) an exception raised while a body is read; keep the caller's own.
        raised: list[BaseException] = []

        def report(sent: int) -> None:
            try:
                if progress is not None:
                    progress(sent)
            except BaseException as exc:
                raised.append(exc)
                raise

        try:
            with self._translated(key):
                self._client.upload_file(
                    str(local_path), self.location.bucket, full_key, Config=self._transfer, Callback=report
                )
        except Exception as exc:
            if raised and raised[0] is not exc:
                raise raised[0] from exc
            raise
        return self.uri(key)

    def get_file(self, key: str, local_path: pathlib.Path) -> None:
        full_key = self.location.full_key(key)
        local_path = pathlib.Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        with self._translated(key):
            # s3transfer writes to a temporary name beside local_path and renames it once complete.
            self._client.download_file(self.location.bucket, full_key, str(local_path), Config=self._transfer)

    def exists(self, key: str) -> bool:
        full_key = self.location.full_key(key)
        try:
            with self._translated(key):
                self._client.head_object(Bucket=self.location.bucket, Key=full_key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        # DeleteObject succeeds on a missing key; the contract (spec §7.2) wants NotFound, hence the HEAD.
        full_key = self.location.full_key(key)
        with self._translated(key):
            self._client.head_object(Bucket=self.location.bucket, Key=full_key)
            self._client.delete_object(Bucket=self.location.bucket, Key=full_key)
