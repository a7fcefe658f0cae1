"""What a provider is asked for: a `ProductRequest`, built from the scene the download task carries.

The catalogue records per scene (spec §3.2) a `metadata` map: `uuid` (the product Id of Copernicus and
Creodias), `download_link`, and, from catalogues that publish them, the product's checksums and size.
Providers read only this request, never the payload otherwise: credentials come from settings alone.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import Any

from libs.domain import models
from libs.runtime.errors import IngesterError


class Cancelled(IngesterError):
    """The task was cancelled while its product was fetched: nobody reads this error, and what the
    provider had started (a partial file, a staging folder) is removed."""


@dataclasses.dataclass(frozen=True)
class Progress:
    provider: str
    done: int  # bytes on disk so far (resumed bytes included)
    total: int | None  # None while the size is unknown

    def text(self) -> str:
        mib = 1024 * 1024
        if self.total:
            percent = 100 * self.done / self.total
            return f"downloading via {self.provider}: {self.done / mib:.1f}/{self.total / mib:.1f} MiB ({percent:.0f}%)"
        return f"downloading via {self.provider}: {self.done / mib:.1f} MiB"


@dataclasses.dataclass
class ProductRequest:
    source_id: str
    aoi: str = ""
    download_link: str = ""
    uuid: str = ""
    # Algorithm (upper case: MD5, SHA256, BLAKE3…) → lower-case hex digest.
    checksums: dict[str, str] = dataclasses.field(default_factory=dict)
    size: int | None = None
    # Called (from the provider's thread) as bytes arrive; the worker forwards it to its status board.
    on_progress: Callable[[Progress], None] | None = None
    # Set when the task is cancelled (lease lost, worker stopping): transfers and waits stop early.
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)

    @classmethod
    def from_scene(cls, scene: models.Scene, **kw: Any) -> ProductRequest:
        metadata = scene.data.metadata or {}
        return cls(
            source_id=scene.source_id,
            aoi=scene.aoi,
            download_link=str(metadata.get(models.METADATA_DOWNLOAD_LINK) or ""),
            uuid=str(metadata.get(models.METADATA_UUID) or ""),
            checksums=parse_checksums(metadata.get(models.METADATA_CHECKSUMS)),
            size=_size(metadata.get(models.METADATA_SIZE)),
            **kw,
        )

    def check_cancelled(self, what: str) -> None:
        """Raises Cancelled once the task is cancelled: providers call it between cheap steps."""
        if self.cancel.is_set():
            raise Cancelled(f"{what}: cancelled")

    def report(self, provider: str, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(provider, done, total))


def parse_checksums(value: Any) -> dict[str, str]:
    """Accepts `{"md5": "…"}` (any case), the OData list `[{"Algorithm": "MD5", "Value": "…"}, …]` and
    `{"multihash": "…"}` (STAC `file:checksum`), decoded to its algorithm."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(item.get("Algorithm"), item.get("Value")) for item in value if isinstance(item, Mapping)]
    checksums = {}
    for algorithm, digest in pairs:
        if not algorithm or not digest:
            continue
        name, hexdigest = str(algorithm).upper().replace("-", ""), str(digest).lower()
        if name == "MULTIHASH":
            decoded = _multihash(hexdigest)
            if decoded is None:
                continue
            name, hexdigest = decoded
        checksums[name] = hexdigest
    return checksums


# Multihash function codes (multiformats table) of the algorithms we can verify, as their varint bytes.
_MULTIHASH_CODES = {"d501": "MD5", "11": "SHA1", "12": "SHA256", "13": "SHA512", "1e": "BLAKE3"}


def _multihash(value: str) -> tuple[str, str] | None:
    """(algorithm, hex digest) of a hex multihash: <varint code><varint length><digest>."""
    for prefix, name in _MULTIHASH_CODES.items():
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            length = int(rest[:2], 16) if len(rest) >= 2 else -1
            digest = rest[2:]
            return (name, digest) if len(digest) == 2 * length else None
    return None


def _size(value: Any) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if size > 0 else None
