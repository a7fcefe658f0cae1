"""Settings of the processor process (env prefix GEOCUBE_PROCESSOR_)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from libs.geocube.settings import GeocubeSettings
from libs.runtime.errors import InvalidArgument
from libs.worker.settings import WorkerSettings

PREFIX = "GEOCUBE_PROCESSOR_"


@dataclasses.dataclass(frozen=True)
class ProcessorSettings(WorkerSettings, GeocubeSettings):
    PREFIX: ClassVar[str] = PREFIX

    address: str = "127.0.0.1:50053"
    # Pause between the attempts of an IndexDatasets call the registry could not answer (3 attempts).
    index_retry_seconds: float = 15.0
    # Write the static STAC catalog beside the outputs (items always go to the catalogue's STAC API).
    stac_static_catalog: bool = True
    # STAC API (with the Transactions extension) the indexed layers are published to after indexing,
    # e.g. "https://stac.example.com/"; "" = no publishing. See docs/stac-publishing.md.
    stac_publish_url: str = ""
    # Sent as `Authorization: Bearer <token>` to that API; never logged.
    stac_publish_token: str = dataclasses.field(default="", repr=False)
    # Seconds allowed to one request to that API.
    stac_publish_timeout: float = 30.0
    # (Indexing in a Geocube server instead of the built-in registry: the fields of GeocubeSettings,
    # docs/geocube.md.)

    def check(self) -> None:
        super().check()
        self.check_geocube(self.PREFIX)
        if self.stac_publish_url and not self.stac_publish_url.startswith(("http://", "https://")):
            raise InvalidArgument(self.PREFIX + "STAC_PUBLISH_URL", "expected an http:// or https:// URL")
