"""Settings of the processor process (env prefix GEOCUBE_PROCESSOR_)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.geocube.settings import GeocubeSettings
from services.worker.settings import WorkerSettings

PREFIX = "GEOCUBE_PROCESSOR_"


@dataclasses.dataclass(frozen=True)
class ProcessorSettings(WorkerSettings, GeocubeSettings):
    PREFIX: ClassVar[str] = PREFIX

    address: str = "127.0.0.1:50053"
    # Pause between the attempts of an IndexDatasets call the registry could not answer (3 attempts).
    index_retry_seconds: float = 15.0
    # (Indexing in a Geocube server instead of the built-in registry: the fields of GeocubeSettings,
    # docs/geocube.md.)

    def check(self) -> None:
        super().check()
        self.check_geocube(self.PREFIX)
