"""Streaming a product over HTTP into a file: bounded memory, resume, verification, atomic rename.

Invariants:
- Memory is bounded by design, whatever the product size: the body is read one socket read at a time
  (urllib3's `read1`, at most `Policy.chunk_size`, 1 MiB), written out at once and hashed from the same
  chunk; the next chunk replaces it. Nothing ever holds the whole body.
- The bytes go to `.<name>.partial` beside the destination; the destination appears only by a rename once
  the transfer is complete and verified (size, checksum). On any failure the partial file is removed, so
  neither a truncated nor a corrupt product stays behind in the working directory.
- A broken body (connection reset, read timeout, short body) is resumed with `Range: bytes=<done>-`,
  `If-Range` naming the validator (strong ETag, else Last-Modified) of the first answer, at most
  `Policy.resume_attempts` times. A server that answers 200 to a resume sent the whole object again
  (it changed, or ignores ranges): the file restarts from zero.
- 429/503 with a Retry-After no longer than `Policy.retry_after_max` wait on the request's cancel event
  (so a cancelled task stops waiting at once) and retry: the policy of libs.http.retry, done by urllib3
  in the session; other transient statuses and network errors fail at once as Unavailable: the task goes
  back to the queue and is retried later by whichever worker leases it.
- 401: `Auth.refresh()` is asked once; a second 401 fails with Unauthorized.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pathlib
import queue
import threading
import time
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, Self

import requests

from libs.http import client, errors
from libs.http.retry import RetryPolicy
from services.downloader.providers.product import Cancelled, ProductRequest
from libs.runtime.errors import Unavailable
from libs.runtime.urls import public_url

logger = logging.getLogger(__name__)

_PROGRESS_INTERVAL = 0.5  # seconds between two progress reports (the status board, heartbeats)…
_PROGRESS_BYTES = 8 << 20  # …or bytes, when the size is unknown (else one percent)


class _Broken(Exception):
    """The connection broke mid-body (reset, read timeout, short body): worth a resume."""


class Auth(Protocol):
    def headers(self) -> dict[str, str]: ...

    def refresh(self) -> bool:
        """Called on a 401; True when new credentials are worth one more try."""
        ...


class NoAuth:
    def headers(self) -> dict[str, str]:
        return {}

    def refresh(self) -> bool:
        return False


@dataclasses.dataclass(frozen=True)
class Policy:
    resume_attempts: int = 3
    retry_pause: float = 1.0  # pause before the first resume; b, 3b, 7b… (libs.http.retry.backoff_delay)
    retry_after_max: float = 120.0
    timeout: float = 60.0  # connect, then each read
    chunk_size: int = 1 << 20

    def retry(self) -> RetryPolicy:
        """Requests retried by the session: 429/503 with an acceptable Retry-After, nothing else."""
        return RetryPolicy(
            attempts=self.resume_attempts,
            backoff=self.retry_pause,
            statuses=frozenset(),
            network=False,
            retry_after=True,
            longest_wait=self.retry_after_max,
        )


def make_hashers(checksums: dict[str, str]) -> dict[str, Any]:
    """hashlib objects for the checksums we can compute; BLAKE3 needs the optional `blake3` package."""
    hashers: dict[str, Any] = {}
    for algorithm in checksums:
        name = {"SHA256": "sha256", "SHA3256": "sha3_256", "SHA1": "sha1", "SHA512": "sha512"}.get(
            algorithm, algorithm.lower()
        )
        if name == "blake3":
            try:
                import blake3  # type: ignore[import-not-found]
            except ImportError:
                continue
            hashers[algorithm] = blake3.blake3()
        elif name in hashlib.algorithms_available:
            hashers[algorithm] = hashlib.new(name)
    if checksums and not hashers:
        logger.info("no usable checksum among %s: the product is checked by size only", sorted(checksums))
    return hashers


def _validator(reply: requests.Response) -> str | None:
    etag = reply.headers.get("ETag")
    if etag and not etag.startswith("W/"):  # If-Range accepts strong validators only (RFC 9110 §13.1.5)
        return etag
    return reply.headers.get("Last-Modified")


class _Transfer:
    """One download's state across its requests (resumes, retries, a token refresh)."""

    def __init__(
        self,
        url: str,
        partial: pathlib.Path,
        product: ProductRequest,
        provider: str,
        auth: Auth,
        policy: Policy,
        trusted: AbstractSet[str] = frozenset(),
    ):
        self.url, self.partial, self.product, self.provider = url, partial, product, provider
        self.auth, self.policy = auth, policy
        self.what = provider  # the job names the scene; errors name the provider and the URL
        self.public = public_url(url)
        # One session per download: its Retry-After waits are this product's cancellable waits.
        self.session = client.session(
            policy.timeout,
            retry=policy.retry(),
            wait=lambda seconds: self.wait(seconds, "HTTP 429/503 with Retry-After"),
            trusted=trusted,
        )
        self.done = 0
        self.total: int | None = product.size
        self.validator: str | None = None
        self.hashers = make_hashers(product.checksums)
        self.last_report = 0.0
        self.last_done = 0

    def wait(self, seconds: float, why: str) -> None:
        logger.info("%s: %s, waiting %.1fs", self.what, why, seconds)
        if self.product.cancel.wait(seconds):
            raise Cancelled(f"{self.what}: cancelled")

    def open(self) -> requests.Response:
        """The answer to the next request (resuming from `done`), after 401 handling (429/503 with
        Retry-After are retried by the session)."""
        refreshed = False
        while True:
            headers = {"Accept-Encoding": "identity", **self.auth.headers()}
            if self.done:
                headers["Range"] = f"bytes={self.done}-"
                if self.validator:
                    headers["If-Range"] = self.validator
            try:
                reply = self.session.get(self.url, headers=headers, stream=True)
            except requests.RequestException as exc:
                raise errors.transport_error(exc, self.what, self.url) from exc
            if reply.status_code == 401 and not refreshed:
                reply.close()
                refreshed = True
                if self.auth.refresh():
                    continue
                raise errors.Unauthorized(
                    f"{self.what}: HTTP 401 Unauthorized from {self.public}: credentials refused"
                )
            if reply.status_code == 401:
                reply.close()
                raise errors.Unauthorized(
                    f"{self.what}: HTTP 401 Unauthorized from {self.public} even with a fresh token: "
                    "check the credentials"
                )
            if reply.status_code == 416 and self.done and self.total == self.done:
                reply.close()  # we already had every byte: the last read just missed the end
                return reply
            errors.raise_for_status(reply, self.what)
            return reply

    def start_body(self, reply: requests.Response) -> bool:
        """Positions the file for this answer's body; False if there is nothing left to read."""
        if reply.status_code == 416:
            return False
        if reply.status_code == 206:
            content_range = reply.headers.get("Content-Range") or ""
            start = content_range.removeprefix("bytes ").split("-", 1)[0]
            if start != str(self.done):
                reply.close()
                raise Unavailable(
                    f"{self.what}: unexpected Content-Range {content_range!r} for byte {self.done}"
                )
            total = content_range.rsplit("/", 1)[-1]
            if total.isdigit():
                self._set_total(int(total))
        else:
            if self.done:
                logger.info("%s: the server sent the whole product again: restarting", self.what)
            self.done = 0
            self.hashers = make_hashers(self.product.checksums)
            self.validator = _validator(reply)
            length = reply.headers.get("Content-Length")
            if length and length.isdigit():
                self._set_total(int(length))
        return True

    def _set_total(self, total: int) -> None:
        if self.product.size is not None and total != self.product.size:
            raise Unavailable(
                f"{self.what}: server announces {total} bytes, the catalogue {self.product.size}"
            )
        self.total = total

    def copy_body(self, reply: requests.Response, file: Any) -> None:
        """Appends the body to the file; raises _Broken when the connection breaks (a failing disk raises
        its OSError as it is: resuming would not help)."""
        with _HashPipe(list(self.hashers.values())) as hashing:
            self._copy_chunks(reply, file, hashing)

    def _copy_chunks(self, reply: requests.Response, file: Any, hashing: _HashPipe) -> None:
        cancel = self.product.cancel
        read1 = reply.raw.read1  # the body as sent (no decoding: Accept-Encoding is identity)
        while True:
            try:
                # read1: one socket read, whatever has arrived (up to chunk_size). `iter_content` or a
                # buffered read would wait to fill the whole chunk and, on a read timeout, lose it.
                chunk = read1(self.policy.chunk_size)
            except errors.TRANSFER_ERRORS as exc:
                raise _Broken(type(exc).__name__) from exc
            if not chunk:
                break
            count = len(chunk)
            file.write(chunk)
            hashing.feed(chunk)
            self.done += count
            if cancel.is_set():
                raise Cancelled(f"{self.what}: cancelled")
            # Report every percent (so a stalled transfer shows where it stands) or every half second.
            now = time.monotonic()
            step = self.total // 100 if self.total else _PROGRESS_BYTES
            if self.done - self.last_done >= step or now - self.last_report >= _PROGRESS_INTERVAL:
                self.last_report, self.last_done = now, self.done
                self.product.report(self.provider, self.done, self.total)
        if self.total is not None and self.done < self.total:
            raise _Broken(f"{self.total - self.done} bytes missing")

    def verify(self) -> None:
        if self.total is not None and self.done != self.total:
            raise Unavailable(f"{self.what}: got {self.done} bytes of {self.public}, expected {self.total}")
        for algorithm, hasher in self.hashers.items():
            if hasher.hexdigest() != self.product.checksums[algorithm]:
                # Corrupt on the way (or a changed product): a later attempt may get the right bytes.
                raise Unavailable(
                    f"{self.what}: {algorithm} checksum mismatch for {self.public}: the download is corrupt"
                )


class _HashPipe:
    """Checksums computed on their own thread while the next chunks are read and written: hashlib
    releases the GIL on large updates, so MD5 (~1.4 s/GiB here) overlaps the transfer instead of adding
    to it. The queue is bounded (8 chunks of at most 1 MiB), so memory stays bounded when hashing is
    slower than the network. With no checksum to compute it does nothing. Should hashing fail, the
    error is raised to the transfer at its next chunk, never left to block it."""

    _DEPTH = 8

    def __init__(self, hashers: list[Any]):
        self._hashers = hashers
        self._queue: queue.Queue[bytes | None] = queue.Queue(self._DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="checksum", daemon=True) if hashers else None

    def __enter__(self) -> Self:
        if self._thread is not None:
            self._thread.start()
        return self

    def feed(self, chunk: bytes) -> None:
        if self._thread is None:
            return
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(chunk, timeout=0.5)  # bounded: rechecks a dead hasher, never hangs
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"checksum computation failed: {self._error!r}") from self._error

    def _run(self) -> None:
        try:
            while (chunk := self._queue.get()) is not None:
                for hasher in self._hashers:
                    hasher.update(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the transfer's thread
            self._error = exc
            while self._queue.get() is not None:  # drain, so that a blocked put returns
                pass

    def __exit__(self, *exc_info: object) -> None:
        # Also on errors: the hashers must have seen every byte written before a resume continues them.
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            if exc_info[0] is None:
                self._raise_if_failed()


def download(
    url: str,
    destination: pathlib.Path,
    product: ProductRequest,
    *,
    provider: str,
    auth: Auth | None = None,
    policy: Policy | None = None,
    trusted: AbstractSet[str] = frozenset(),
) -> pathlib.Path:
    """Downloads `url` to `destination` (complete and verified, or not at all); returns it.

    The credentials of `auth` follow redirects as `libs.http.origins.keeps_credentials` says, `trusted`
    naming the other origins they are meant for."""
    policy = policy or Policy()
    partial = destination.with_name(f".{destination.name}.partial")
    transfer = _Transfer(url, partial, product, provider, auth or NoAuth(), policy, trusted)
    broken = 0
    try:
        with open(partial, "wb") as file:
            while True:
                reply = transfer.open()
                try:
                    if transfer.start_body(reply):
                        file.seek(transfer.done)
                        file.truncate()
                        transfer.copy_body(reply, file)
                    break
                except _Broken as exc:
                    # Connection reset, read timeout, short body: resume from what is on disk.
                    broken += 1
                    if broken > policy.resume_attempts:
                        raise Unavailable(
                            f"{transfer.what}: download of {transfer.public} broken after {transfer.done} bytes, "
                            f"{broken - 1} resume(s) failed ({exc})"
                        ) from exc
                    transfer.wait(policy.retry().delay(broken), f"broken at byte {transfer.done}")
                finally:
                    reply.close()
        transfer.verify()
        transfer.product.report(provider, transfer.done, transfer.total)
        os.replace(partial, destination)
        logger.info("%s: %d bytes from %s", transfer.what, transfer.done, public_url(url))
        return destination
    finally:
        transfer.session.close()
        partial.unlink(missing_ok=True)


def unpack(archive: pathlib.Path, workdir: pathlib.Path, product: ProductRequest | None = None) -> None:
    """Unarchives a downloaded zip into the workdir and removes it; other files stay as they are.

    A zip that cannot be read was damaged on the way: transient (spec §7.3: unarchiving errors are).
    An empty zip or one with an unsafe entry (`../`, an absolute path) is what the server holds: a later
    attempt would get the same, so it stays FailedPrecondition (not transient)."""
    from services.downloader.providers.local import DamagedArchive, unarchive

    if archive.suffix.lower() != ".zip":
        return
    try:
        unarchive(archive, workdir, product.cancel if product is not None else None)
    except DamagedArchive as exc:
        raise Unavailable(str(exc)) from exc
    finally:
        archive.unlink(missing_ok=True)
