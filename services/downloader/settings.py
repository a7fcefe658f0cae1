"""Settings of the downloader process (env prefix GEOCUBE_DOWNLOADER_)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.runtime.errors import InvalidArgument
from services.worker.settings import WorkerSettings

PREFIX = "GEOCUBE_DOWNLOADER_"


@dataclasses.dataclass(frozen=True)
class DownloaderSettings(WorkerSettings):
    PREFIX: ClassVar[str] = PREFIX

    address: str = "127.0.0.1:50052"
    # Root of the local product archive (`<root>/<YYYY>/<MM>/<DD>/<scene>.zip`, or `<root>/<scene>.zip`).
    # Required for now: the local provider is the only one.
    local_path: str = ""

    def check(self) -> None:
        super().check()
        if not self.local_path.strip():
            raise InvalidArgument(
                PREFIX + "LOCAL_PATH",
                "required: no image providers defined (the local archive is the only one)",
            )
