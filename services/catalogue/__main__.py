"""`python -m services.catalogue`: the catalogue service (settings from GEOCUBE_CATALOGUE_* variables)."""

from __future__ import annotations

import asyncio
import sys

import psycopg

from services.catalogue import app
from services.catalogue.settings import PREFIX, CatalogueSettings
from libs.runtime import logs, server, settings, tracing
from libs.runtime.errors import IngesterError


async def _main() -> None:
    config = settings.from_env(CatalogueSettings, PREFIX)
    logs.configure(config.log_level, config.log_json)
    tracing.configure("geocube-catalogue")
    running = await app.start(config)
    await server.wait_for_stop_signal()
    await running.stop(grace=10.0)


def main() -> None:
    try:
        asyncio.run(_main())
    except IngesterError as exc:  # a bad setting: one line naming it, no traceback
        print(f"catalogue: {exc}", file=sys.stderr)
        sys.exit(2)
    except psycopg.OperationalError as exc:
        print(f"catalogue: cannot reach PostgreSQL ({PREFIX}DATABASE_DSN): {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
