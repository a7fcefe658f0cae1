"""Seekable, read-only file objects over local files, HTTP(S) URLs and s3:// / gs:// objects.

`open_ranged(uri)` reads lazily with ranged requests (HTTP `Range`, obstore ranged GETs), so that
`zipfile.ZipFile(open_ranged(url))` transfers the central directory and the members it is asked for,
not the whole archive. Reads go through one buffer: a fetch asks for at least `read_ahead` bytes, and
the request size doubles while reads stay sequential (up to `_MAX_READ_AHEAD`), so streaming a large
member costs a few requests while random access stays cheap. Memory stays bounded by the larger of
the buffer and the largest single `read(n)` the caller makes.

A server that ignores `Range` (answers 200 with the whole body) is detected on the first request: the
body is then streamed once into a temporary file (on disk beyond 1 MiB) and every read is served from
it: correct, never the whole object in memory, but the whole object is transferred once.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import pathlib
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping
from typing import IO, Any, Protocol, cast

import obstore
import obstore.exceptions
import requests

from libs.http import client, errors
from libs.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from libs.runtime.urls import public_url
from libs.storage import objectstore
from libs.storage.backend import StorageAccessDenied
from libs.storage.config import ObjectStoreConfig

DEFAULT_READ_AHEAD = 64 * 1024
_MAX_READ_AHEAD = 4 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")
# What reading a response body may raise once the headers are in (urllib3 errors are not requests').
_TRANSFER_ERRORS = errors.TRANSFER_ERRORS


@dataclasses.dataclass
class _Answer:
    """Bytes of the object from `start` on, and the object's size when the server told it."""

    start: int
    data: bytes
    size: int | None


class _Whole:
    """The server ignored Range: `stream` yields the whole object from its first byte."""

    def __init__(self, stream: IO[bytes] | Any, close: Any):
        self.stream = stream
        self.close = close


class _Source(Protocol):
    uri: str

    def get(self, start: int | None, length: int) -> _Answer | _Whole:
        """`length` bytes from `start`, or the last `length` bytes when `start` is None."""
        ...

    def close(self) -> None: ...


def _range_header(start: int | None, length: int) -> str:
    return f"bytes=-{length}" if start is None else f"bytes={start}-{start + length - 1}"


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header; None where absent or `*`."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    size = int(match.group(3)) if match.group(3) != "*" else None
    return first, size


class _HttpSource:
    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None,
        basic_auth: tuple[str, str] | None,
        headers: Mapping[str, str] | None,
        timeout: float,
        session: requests.Session | None,
    ):
        self.url = url
        self.uri = public_url(url)
        self._own_session = session is None
        # libs.http's session: timeouts, proxies with their credentials, the redirect rule; no retry (a
        # failed read is Unavailable and the caller's caller retries).
        self._session = session or client.session(timeout)
        # identity: a Range applies to the encoded body, so compressed answers would break offsets.
        self._headers = {**(headers or {}), "Accept-Encoding": "identity"}
        if bearer_token:
            # The session drops Authorization when a redirect leaves the origin: the token stays there.
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._auth = basic_auth
        self._timeout = timeout

    def get(self, start: int | None, length: int) -> _Answer | _Whole:
        headers = {**self._headers, "Range": _range_header(start, length)}
        try:
            response = self._session.get(
                self.url, headers=headers, auth=self._auth, timeout=self._timeout, stream=True
            )
        except requests.RequestException as exc:
            raise Unavailable(f"{self.uri}: unreachable ({errors.describe(exc)})") from exc
        status = response.status_code
        if status == 200:
            response.raw.decode_content = True  # the whole body: undo a Content-Encoding if one was used
            return _Whole(response.raw, response.close)
        try:
            if status == 206:
                first, size = _parse_content_range(response.headers.get("Content-Range"))
                if first is None or (start is not None and first != start):
                    raise FailedPrecondition(f"{self.uri}: unusable Content-Range answer to a ranged request")
                # Never more than asked: a misbehaving server cannot make us buffer the whole object.
                return _Answer(first, response.raw.read(length), size)
            if status == 416:
                _, size = _parse_content_range(response.headers.get("Content-Range"))
                return _Answer(start or 0, b"", size)
        except _TRANSFER_ERRORS as exc:
            raise Unavailable(f"{self.uri}: transfer interrupted ({type(exc).__name__})") from exc
        finally:
            response.close()
        # libs.http.errors' table, in the words of a storage read: 401/403 (any refusal) are the store's
        # StorageAccessDenied, fatal like the object stores' own.
        error = errors.for_status(status, f"{self.uri}: unexpected HTTP {status}")
        if isinstance(error, NotFound):
            raise NotFound(f"File not found: {self.uri}")
        if isinstance(error, PermissionDenied):
            raise StorageAccessDenied(f"access denied to {self.uri}: HTTP {status}")
        if isinstance(error, Unavailable):
            raise Unavailable(f"{self.uri}: temporarily unavailable (HTTP {status})")
        raise error or FailedPrecondition(f"{self.uri}: unexpected HTTP {status}")

    def close(self) -> None:
        if self._own_session:
            self._session.close()


class _Chunks:
    """A stream of chunks as the `read()` shutil.copyfileobj calls."""

    def __init__(self, chunks: Any):
        self._chunks = iter(chunks)

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


class _StoreSource:
    """An s3:// or gs:// object through the process's obstore store (stores.store_for)."""

    def __init__(self, location: objectstore.BucketLocation, key: str, config: ObjectStoreConfig):
        self._location = location
        self._key = location.full_key(key)
        self.uri = location.uri(key)
        self._config = config

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """`function(store, key, …)` with store failures raised as error-table classes."""
        try:
            store = objectstore.store_for(self._location.scheme, self._location.bucket, self._config)
            return function(store, self._key, *args, **kwargs)
        except Exception as exc:
            mapped = objectstore.translate(exc, bucket=self._location.bucket, uri=self.uri)
            if mapped is None:
                raise
            raise mapped from exc

    def get(self, start: int | None, length: int) -> _Answer | _Whole:
        wanted: Any = {"suffix": length} if start is None else (start, start + length)

        def ranged(store: Any, key: str) -> _Answer | None:
            try:
                result = obstore.get(store, key, options={"range": wanted})
                return _Answer(result.range[0], bytes(result.bytes()), result.meta["size"])
            except obstore.exceptions.BaseError as exc:
                # 416: past the end, or an empty object; "non-partial": a 200 to a ranged request
                # (an empty object, or a store that ignores Range). The size tells which.
                if objectstore.http_status(exc) == 416 or "non-partial" in str(exc):
                    return None
                raise

        answer = self._call(ranged)
        if answer is not None:
            return answer
        size = int(self._call(obstore.head)["size"])
        if size == 0 or (start is not None and start >= size):
            return _Answer(start or 0, b"", size)
        whole = self._call(obstore.get)
        return _Whole(_Chunks(whole.stream(min_chunk_size=_COPY_CHUNK)), lambda: None)

    def close(self) -> None:
        pass  # the store is the process's shared one


class RangedFile(io.BufferedIOBase):
    """Read-only, seekable view of a remote object; `read(n)` returns n bytes unless at the end."""

    def __init__(self, source: _Source, *, read_ahead: int = DEFAULT_READ_AHEAD):
        super().__init__()
        self.name = source.uri
        self._source = source
        self._base_ahead = max(1, read_ahead)
        self._ahead = self._base_ahead
        self._size: int | None = None
        self._pos = 0
        self._buffer = b""
        self._buffer_start = 0
        self._last_fetch_end = -1
        self._spool: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    @property
    def size(self) -> int:
        """Size of the object in bytes (learnt from the first answer, with a suffix request if needed)."""
        if self._size is None:
            self._accept(self._source.get(None, self._base_ahead))
        if self._size is None:
            raise FailedPrecondition(f"{self.name}: the server did not tell the object's size")
        return self._size

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            # OSError(EINVAL), as a real file answers: zipfile probing a tiny object for its end record
            # catches OSError ("not a zip"), not ValueError.
            raise OSError(errno.EINVAL, f"negative seek position {target}")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        chunks: list[bytes] = []
        wanted = size
        while wanted > 0:
            if self._spool is not None:
                self._spool.seek(self._pos)
                data = self._spool.read(wanted)
            else:
                data = self._from_buffer(wanted) or self._fetch(wanted)
            if not data:
                break
            chunks.append(data)
            self._pos += len(data)
            wanted -= len(data)
        return b"".join(chunks)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def close(self) -> None:
        if not self.closed:
            self._buffer = b""
            if self._spool is not None:
                self._spool.close()
            self._source.close()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _from_buffer(self, wanted: int) -> bytes:
        offset = self._pos - self._buffer_start
        if 0 <= offset < len(self._buffer):
            return self._buffer[offset : offset + wanted]
        return b""

    def _fetch(self, wanted: int) -> bytes:
        """Fetches from the current position into the buffer; returns what it holds from there."""
        if self._size is not None and self._pos >= self._size:
            return b""
        # Sequential reads double the read-ahead; a jump elsewhere starts again from the base size.
        sequential = self._pos == self._last_fetch_end
        self._ahead = min(self._ahead * 2, _MAX_READ_AHEAD) if sequential else self._base_ahead
        length = max(wanted, self._ahead)
        if self._size is not None:
            length = min(length, self._size - self._pos)
        self._accept(self._source.get(self._pos, length))
        if self._spool is not None:
            self._spool.seek(self._pos)
            return self._spool.read(wanted)
        return self._from_buffer(wanted)

    def _accept(self, answer: _Answer | _Whole) -> None:
        if isinstance(answer, _Whole):
            self._spool_whole(answer)
            return
        if answer.size is not None:
            self._size = answer.size
        self._buffer, self._buffer_start = answer.data, answer.start
        self._last_fetch_end = answer.start + len(answer.data)

    def _spool_whole(self, whole: _Whole) -> None:
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_COPY_CHUNK)  # noqa: SIM115 - kept open
        try:
            shutil.copyfileobj(whole.stream, spool, _COPY_CHUNK)
        except (*_TRANSFER_ERRORS, obstore.exceptions.BaseError) as exc:
            spool.close()
            raise Unavailable(f"{self.name}: transfer interrupted ({type(exc).__name__})") from exc
        finally:
            whole.close()
        self._spool = spool
        self._size = spool.tell()
        self._buffer = b""


def open_ranged(
    uri: str,
    config: ObjectStoreConfig | None = None,
    *,
    bearer_token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    read_ahead: int = DEFAULT_READ_AHEAD,
    session: requests.Session | None = None,
) -> IO[bytes]:
    """A seekable read-only binary file over `uri` (plain path, file://, http(s)://, s3://, gs://).

    Credentials come from the caller (`bearer_token`, `basic_auth`, `headers`) for HTTP and from
    `config` for object stores. A missing object raises NotFound("File not found: <uri>"). Nothing is
    requested before the first read or seek. Close the file (or use it in `with`) when done."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("", "file"):
        path = pathlib.Path(urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri)
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise InvalidArgument("uri", f"file URI {uri!r} names a remote host {parsed.netloc!r}")
        try:
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"File not found: {uri}") from exc
    if parsed.scheme in ("http", "https"):
        source: _Source = _HttpSource(
            uri,
            bearer_token=bearer_token,
            basic_auth=basic_auth,
            headers=headers,
            timeout=timeout,
            session=session,
        )
        return cast(IO[bytes], RangedFile(source, read_ahead=read_ahead))
    if parsed.scheme in objectstore.SCHEMES:
        location = objectstore.parse_location(uri, "uri")
        if not location.prefix:
            raise InvalidArgument("uri", f"{uri!r} names a bucket, not an object")
        root = objectstore.BucketLocation(location.scheme, location.bucket)
        store_file = RangedFile(
            _StoreSource(root, location.prefix, config or ObjectStoreConfig()), read_ahead=read_ahead
        )
        return cast(IO[bytes], store_file)
    raise InvalidArgument("uri", f"unsupported scheme {parsed.scheme!r} in {public_url(uri)!r}")
