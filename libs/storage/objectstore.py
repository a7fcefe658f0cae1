"""Object storage on obstore (the Rust object_store crate): `s3://bucket[/prefix]` on AWS or any S3
service (MinIO, Ceph, moto…) and `gs://bucket[/prefix]` on Google Cloud Storage (libs/storage/stores.py
builds the stores from the settings).

A file up to the multipart threshold is one PUT; a larger one a multipart upload that is completed
only once every part is stored (and aborted on error), so a reader sees either no object or the whole
one. Downloads stream into a temporary file renamed into place. Failures map onto the error table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import pathlib
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator

import obstore
import obstore.exceptions

from libs.runtime.errors import (
    FailedPrecondition,
    IngesterError,
    InvalidArgument,
    NotFound,
    Unavailable,
    exception_chain,
)
from libs.storage.backend import StorageAccessDenied, check_key
from libs.storage.config import MIN_PART_SIZE, ObjectStoreConfig
from libs.storage.stores import store_for

SCHEMES = ("s3", "gs")
# Parts are held in memory (4 in flight): small enough to bound it, large enough that a multi-GB
# product needs a few hundred parts (they grow past the 10,000-part cap for larger files).
_MAX_PART_SIZE = 16 * 1024 * 1024
_MAX_PARTS = 10_000
_CONCURRENCY = 4
_DOWNLOAD_CHUNK = 8 * 1024 * 1024
# Bucket names of both S3 and GCS (3-63 characters; GCS allows up to 222 with dots, and underscores).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
# What object_store writes of a refusal: "... status code: 503 Service Unavailable: <Error><Code>…".
_STATUS = re.compile(r"status(?: code)?:? (\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
# Codes S3 and GCS answer when the credentials or the bucket policy refuse us.
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
# Codes of transient refusals (besides every 5xx, 408 and 429): another try later may succeed.
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}
)
# object_store's words when it could not get credentials (no HTTP status of the store to go by).
_CREDENTIAL_FAILURE = re.compile(r"credential|token|service account|metadata", re.IGNORECASE)


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


def http_status(exc: BaseException) -> int:
    """The store's HTTP status in an obstore error (object_store puts it only in the text), or 0."""
    match = _STATUS.search(str(exc))
    return int(match.group(1)) if match else 0


def _refusal(item: BaseException, *, bucket: str, uri: str) -> IngesterError:
    """The error-table class of an obstore error, from the store's HTTP status and error code."""
    text = str(item)
    status = http_status(item)
    code_match = _CODE.search(text)
    code = code_match.group(1) if code_match else ""
    what = ", ".join(part for part in (code, f"HTTP {status}" if status else "") if part)
    if isinstance(item, FileNotFoundError) or status == 404:
        if code == "NoSuchBucket":
            return NotFound(f"File not found: {uri} (bucket {bucket!r} does not exist)")
        return NotFound(f"File not found: {uri}")
    denied = isinstance(
        item, (obstore.exceptions.PermissionDeniedError, obstore.exceptions.UnauthenticatedError)
    )
    if denied or code in _DENIED_CODES or status in (401, 403):
        return StorageAccessDenied(
            f"access denied to bucket {bucket!r} ({uri}): {what or type(item).__name__}; check the credentials "
            "and the bucket's permissions (a missing object also answers 403 without list permission)"
        )
    if code in _TRANSIENT_CODES or status in (408, 429) or status >= 500:
        return Unavailable(f"{uri}: object store temporarily unavailable ({what})")
    if status in (301, 307) or "redirect" in text:
        return FailedPrecondition(
            f"{uri}: bucket {bucket!r} answers from another region ({what}): set S3_REGION to its region"
        )
    if status:
        return FailedPrecondition(f"{uri}: object store refused the request ({what})")
    if _CREDENTIAL_FAILURE.search(text):
        return StorageAccessDenied(
            f"no usable credentials for bucket {bucket!r} ({uri}): {type(item).__name__}"
        )
    if isinstance(item, obstore.exceptions.GenericError):
        # No answer at all: connection refused or reset, timeout, DNS. The first line names the cause
        # and the URL, never the credentials (they travel in headers).
        return Unavailable(f"{uri}: object store unreachable ({text.splitlines()[0][:300]})")
    return FailedPrecondition(f"{uri}: object store refused the request ({type(item).__name__})")


def translate(exc: BaseException, *, bucket: str, uri: str) -> IngesterError | None:
    """The error-table class of an obstore failure (searched along the cause chain), or None when it
    is not a store error. Call it only around store calls: obstore reports a missing object as the
    built-in FileNotFoundError, which a local file could raise too."""
    for item in exception_chain(exc):
        if isinstance(item, IngesterError):
            return None  # already one of ours (raised by a progress callback, say): keep it as is
        if isinstance(item, (obstore.exceptions.BaseError, FileNotFoundError)):
            return _refusal(item, bucket=bucket, uri=uri)
    return None


def _chunks(path: pathlib.Path, size: int, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(size):
            if progress is not None:
                progress(len(chunk))
            yield chunk


class ObjectStorage:
    """Objects `<prefix>/<key>` of one bucket (s3:// or gs://)."""

    def __init__(self, location: BucketLocation, config: ObjectStoreConfig | None = None):
        config = config or ObjectStoreConfig()
        config.check()
        self.location = location
        self._config = config
        threshold = config.storage_multipart_threshold
        self._part_size = max(MIN_PART_SIZE, min(threshold, _MAX_PART_SIZE))

    def __repr__(self) -> str:
        return f"ObjectStorage({self.location.root_uri!r})"

    @property
    def _store(self) -> obstore.store.ObjectStore:
        # Built on first use, shared by the process (stores.store_for): naming URIs costs nothing.
        return store_for(self.location.scheme, self.location.bucket, self._config)

    @contextlib.contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        """Re-raises store failures as error-table classes (the obstore error stays as the cause)."""
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
        """Uploads `local_path` as `key`; `progress` receives byte counts as the file is read for parts
        (may raise to abandon the upload, which is then aborted: nothing is left in the bucket)."""
        full_key = self.location.full_key(key)
        local_path = pathlib.Path(local_path)
        size = local_path.stat().st_size  # a missing local file fails here, not as a missing object
        if size <= self._config.storage_multipart_threshold:
            body = local_path.read_bytes()  # one PUT: object_store sends it from memory
            with self._translated(key):
                obstore.put(self._store, full_key, body, use_multipart=False)
            if progress is not None:
                progress(size)
            return self.uri(key)
        part = max(self._part_size, math.ceil(size / _MAX_PARTS))
        with self._translated(key):
            obstore.put(
                self._store,
                full_key,
                _chunks(local_path, part, progress),
                use_multipart=True,
                chunk_size=part,
                max_concurrency=_CONCURRENCY,
            )
        return self.uri(key)

    def get_file(self, key: str, local_path: pathlib.Path) -> None:
        full_key = self.location.full_key(key)
        local_path = pathlib.Path(local_path)
        with self._translated(key):
            stream = iter(obstore.get(self._store, full_key).stream(min_chunk_size=_DOWNLOAD_CHUNK))
        local_path.parent.mkdir(parents=True, exist_ok=True)
        partial = local_path.with_name(f".{local_path.name}.{uuid.uuid4().hex}.partial")
        try:
            with partial.open("xb") as file:
                while True:
                    with self._translated(key):  # only the store's reads: local errors stay OSError
                        chunk = next(stream, None)
                    if chunk is None:
                        break
                    file.write(chunk)
            os.replace(partial, local_path)
        finally:
            partial.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        full_key = self.location.full_key(key)
        try:
            with self._translated(key):
                obstore.head(self._store, full_key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        # DeleteObject succeeds on a missing key; the contract (spec §7.2) wants NotFound, hence the HEAD.
        full_key = self.location.full_key(key)
        with self._translated(key):
            obstore.head(self._store, full_key)
            obstore.delete(self._store, full_key)
