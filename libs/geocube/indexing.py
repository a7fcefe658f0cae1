"""The processor's indexation in a Geocube server (spec §9 step 8.3): one IndexDatasets per stored file
(a Geocube container holds the file's datasets), the whole batch retried like the built-in registry's,
then the `processingDate` tag on the records indexed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from libs.geocube.client import DataFormat, Dataset, GeocubeClient, GeocubeError
from libs.geocube.records import PROCESSING_DATE_TAG
from services.processor.indexing import IndexCounts, ToIndex, instance_for, with_retries

logger = logging.getLogger(__name__)


def dataset_for(item: ToIndex) -> Dataset:
    out_file = item.out_file
    return Dataset(
        record_id=item.tile.scene.data.record_id,
        instance_id=instance_for(item),
        bands=tuple(range(1, out_file.nbands + 1)),
        dformat=DataFormat(
            dtype=out_file.datatype.value,
            no_data=out_file.nodata,
            min_value=out_file.min_value,
            max_value=out_file.max_value,
        ),
        real_min_value=out_file.ext_min_value,
        real_max_value=out_file.ext_max_value,
        exponent=out_file.exponent,
    )


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, GeocubeError) and exc.temporary


class GeocubeIndexer:
    def __init__(self, client: GeocubeClient, retry_pause: float = 15.0):
        self._client = client
        self._retry_pause = retry_pause

    async def index(self, items: Sequence[ToIndex]) -> IndexCounts:
        datasets = [(item.uri, dataset_for(item)) for item in items]  # every file checked before any call
        done: set[str] = set()
        counts = {"created": 0, "existing": 0}

        async def index_all() -> None:
            # A retry resumes after the files already indexed; a redo of the whole task finds them
            # ALREADY_EXISTS in the Geocube, which only counts them.
            for uri, dataset in datasets:
                if uri in done:
                    continue
                created = await self._client.index_datasets(uri, [dataset])
                counts["created" if created else "existing"] += 1
                done.add(uri)

        await with_retries(index_all, _retried, self._retry_pause, "IndexDatasets")
        if counts["existing"]:
            logger.warning("%d container(s) were already indexed in the Geocube", counts["existing"])
        await self._tag_records(sorted({d.record_id for _, d in datasets}))
        return IndexCounts(counts["created"], counts["existing"])

    async def _tag_records(self, record_ids: list[str]) -> None:
        # The reference's `processingDate` (its local time; UTC here), errors only logged as it does.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        try:
            await self._client.add_records_tags(record_ids, {PROCESSING_DATE_TAG: stamp})
        except GeocubeError as exc:
            logger.warning("cannot tag record(s) %s with %s: %s", record_ids, PROCESSING_DATE_TAG, exc)
