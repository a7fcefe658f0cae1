"""The `python -m services.downloader|processor` entry point: settings from the environment, logging,
run until SIGTERM/SIGINT, then a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from libs.runtime import logs, tracing
from libs.runtime.errors import IngesterError
from libs.runtime.server import wait_for_stop_signal
from libs.runtime.settings import from_env
from libs.worker.app import WorkerApp
from libs.worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=WorkerSettings)


async def serve(settings: S, start: Callable[[S], Awaitable[WorkerApp]]) -> None:
    app = await start(settings)
    await wait_for_stop_signal()
    logger.info("stop requested: draining (up to %.0fs)", settings.stop_grace_seconds)
    await app.stop(settings.stop_grace_seconds)


def main(name: str, settings_class: type[S], start: Callable[[S], Awaitable[WorkerApp]]) -> None:
    """Exits with a one-line message (status 2) when a setting is missing or unusable."""
    try:
        settings = from_env(settings_class, settings_class.PREFIX)
        settings.check()
    except IngesterError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
    logs.configure(settings.log_level, settings.log_json)
    try:
        tracing.configure(f"geocube-{name}")
        asyncio.run(serve(settings, start))
    except IngesterError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        tracing.shutdown()
