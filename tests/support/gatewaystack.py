"""The real gateway in front of the real catalogue (real PostgreSQL), both on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator

from gateway.app import RunningGateway, serve
from gateway.settings import GatewaySettings
from services.catalogue import app as catalogue_app
from services.catalogue.app import CatalogueApp
from services.catalogue.settings import CatalogueSettings

TOKEN = "stack-token"
TIMEOUT = 30.0


@dataclasses.dataclass
class GatewayStack:
    gateway: RunningGateway
    catalogue: CatalogueApp

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def running_stack(
    pg_dsn: str, workdir: pathlib.Path, gateway: GatewaySettings | None = None, **catalogue: object
) -> AsyncIterator[GatewayStack]:
    """`gateway` settings are completed with the address, catalogue and token; `catalogue` keyword
    arguments go to CatalogueSettings (an empty archive in `workdir` by default)."""
    archive = workdir / "archive"
    archive.mkdir(exist_ok=True)
    options: dict[str, object] = {"archive_path": str(archive), **catalogue}
    running = await asyncio.wait_for(
        catalogue_app.start(CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0", **options)),  # type: ignore[arg-type]
        TIMEOUT,
    )
    settings = dataclasses.replace(
        gateway or GatewaySettings(),
        address="127.0.0.1:0",
        catalogue_address=running.target,
        bearer_tokens=(TOKEN,),
    )
    try:
        http = await asyncio.wait_for(serve(settings), TIMEOUT)
        try:
            yield GatewayStack(http, running)
        finally:
            await asyncio.wait_for(http.stop(), TIMEOUT)
    finally:
        await asyncio.wait_for(running.stop(grace=0.5), TIMEOUT)
