"""Indexing the `to_index` outputs of a tile graph in the registry (spec §9 step 8.3); with a Geocube server
configured, libs/geocube/indexing.py indexes them there instead (same checks, same retries).

One dataset per stored file: record = the scene's record, instance = the scene's instance for the
layer, bands 1..nbands, the pixel format and the real-world range from the graph. The registry is
idempotent (a dataset already indexed with the same record, instance and URI is only counted), so a
task redone after a lost lease or a retry indexes nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import grpc

from protos.ingester.v1 import registry_pb2, registry_pb2_grpc
from libs.domain.models import Tile
from libs.graph.model import DType, OutFile
from libs.worker.outcome import JobError, error_text, is_temporary

logger = logging.getLogger(__name__)
T = TypeVar("T")

INDEX_ATTEMPTS = 3
_RPC_TIMEOUT = 30.0
# Answers that may change on a later attempt; any other error (unknown instance, bad dtype) will not.
_RETRIED_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


@dataclasses.dataclass(frozen=True)
class ToIndex:
    uri: str  # where the file was stored
    tile: Tile  # Ti of the out-file's slot: its scene gives the record and the instances
    out_file: OutFile


@dataclasses.dataclass(frozen=True)
class IndexCounts:
    created: int
    existing: int  # already indexed (a redo of the task)


class DatasetIndexer(Protocol):
    async def index(self, items: Sequence[ToIndex]) -> IndexCounts: ...


def instance_for(item: ToIndex) -> str:
    """The instance a stored file is indexed under; JobError with the reference's texts when it cannot be
    indexed (no instance for its layer, undefined dtype)."""
    out_file = item.out_file
    instance_id = (item.tile.scene.data.instances_id or {}).get(out_file.layer)
    if not instance_id:
        raise JobError(f"indexTile: layer {out_file.layer} not found in InstancesID")
    if out_file.datatype is DType.UNDEFINED:
        # `0` is the reference's numeric value of an undefined dtype: operators match this text.
        raise JobError("indexTile: file.DType '0' not found")
    return instance_id


async def with_retries(
    call: Callable[[], Awaitable[T]],
    is_retried: Callable[[BaseException], bool],
    pause: float,
    what: str,
    prefix: str = "indexTile",
) -> T:
    """`call()`, tried INDEX_ATTEMPTS times while it fails with an error `is_retried` accepts; the last
    such failure is a temporary JobError (the task is leased again later: nothing lost), any other one a
    JobError for good."""
    for attempt in range(1, INDEX_ATTEMPTS + 1):
        try:
            return await call()
        except Exception as exc:
            if isinstance(exc, JobError):
                raise
            if not is_retried(exc):
                raise JobError(f"{prefix}: {error_text(exc)}") from exc
            if attempt == INDEX_ATTEMPTS:
                raise JobError(
                    f"{prefix}: {error_text(exc)} (after {INDEX_ATTEMPTS} retries)",
                    temporary=is_temporary(exc),
                ) from exc
            logger.warning("%s failed (%s), attempt %d/%d", what, error_text(exc), attempt, INDEX_ATTEMPTS)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


def dataset_for(item: ToIndex) -> registry_pb2.Dataset:
    """The registry dataset of a stored file."""
    out_file = item.out_file
    scene_data = item.tile.scene.data
    instance_id = instance_for(item)
    return registry_pb2.Dataset(
        record_id=scene_data.record_id,
        instance_id=instance_id,
        uri=item.uri,
        subdir="",
        bands=list(range(1, out_file.nbands + 1)),
        dformat=registry_pb2.DataFormat(
            dtype=out_file.datatype.value,
            no_data=out_file.nodata,
            min_value=out_file.min_value,
            max_value=out_file.max_value,
        ),
        real_min_value=out_file.ext_min_value,
        real_max_value=out_file.ext_max_value,
        exponent=out_file.exponent,
    )


async def call_with_retries(rpc: Any, request: Any, what: str, retry_pause: float) -> Any:
    """Calls a registry RPC, retried while the registry cannot answer; JobError texts start with `what`."""

    def retried(exc: BaseException) -> bool:
        return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _RETRIED_CODES

    return await with_retries(
        lambda: rpc(request, timeout=_RPC_TIMEOUT), retried, retry_pause, what, prefix=what
    )


class Indexer:
    """Indexes in the built-in registry (served by the catalogue)."""

    def __init__(self, channel: grpc.aio.Channel, retry_pause: float = 15.0):
        self._stub = registry_pb2_grpc.RegistryStub(channel)
        self._retry_pause = retry_pause

    async def index(self, items: Sequence[ToIndex]) -> IndexCounts:
        """Indexes the whole batch in one call, retried while the registry cannot answer."""
        request = registry_pb2.IndexDatasetsRequest(datasets=[dataset_for(item) for item in items])
        response: registry_pb2.IndexDatasetsResponse = await call_with_retries(
            self._stub.IndexDatasets, request, "indexTile", self._retry_pause
        )
        if response.existing:
            logger.warning("%d dataset(s) were already indexed", response.existing)
        return IndexCounts(response.created, response.existing)
