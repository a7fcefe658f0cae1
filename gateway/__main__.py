"""`python -m gateway`: serves the HTTP API until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

from gateway.app import serve
from gateway.settings import PREFIX, GatewaySettings
from libs.runtime import logs, tracing
from libs.runtime.auth import ClientSecurity
from libs.runtime.errors import IngesterError
from libs.runtime.settings import from_env


async def _run(settings: GatewaySettings) -> None:
    running = await serve(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await running.stop()


def main() -> None:
    """Exits with a one-line message (status 2) when a setting is missing or unusable, as the services do."""
    try:
        settings = from_env(GatewaySettings, PREFIX)
        settings.host_port()
        ClientSecurity.for_catalogue(settings, PREFIX)  # unreadable token or certificate files
    except IngesterError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        sys.exit(2)
    logs.configure(settings.log_level, settings.log_json)
    try:
        tracing.configure("geocube-gateway")
        asyncio.run(_run(settings))
    except IngesterError as exc:  # an unusable OTEL_* setting
        print(f"gateway: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
