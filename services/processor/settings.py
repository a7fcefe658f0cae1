"""Settings of the processor process (env prefix GEOCUBE_PROCESSOR_)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.worker.settings import WorkerSettings

PREFIX = "GEOCUBE_PROCESSOR_"


@dataclasses.dataclass(frozen=True)
class ProcessorSettings(WorkerSettings):
    PREFIX: ClassVar[str] = PREFIX

    address: str = "127.0.0.1:50053"
    # Pause between the attempts of an IndexDatasets call the registry could not answer (3 attempts).
    index_retry_seconds: float = 15.0
    # Write the static STAC catalog beside the outputs (items always go to the catalogue's STAC API).
    stac_static_catalog: bool = True
