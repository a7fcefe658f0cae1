"""`python -m services.catalogue`: the catalogue service (settings from GEOCUBE_CATALOGUE_* variables)."""

from __future__ import annotations

import asyncio

from services.catalogue import app
from services.catalogue.settings import PREFIX, CatalogueSettings
from services.runtime import logs, server, settings


async def _main() -> None:
    config = settings.from_env(CatalogueSettings, PREFIX)
    logs.configure(config.log_level, config.log_json)
    running = await app.start(config)
    await server.wait_for_stop_signal()
    await running.stop(grace=10.0)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
