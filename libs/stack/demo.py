"""`geocube-ingester demo`: the whole pipeline on the embedded default, driven over HTTP like a user would.

Builds a small archive of Sentinel-2 L1C products over Denmark, starts every service, registers the demo
layers, posts the DenmarkDemoS2 payload to the gateway (scenes, then tiles, then aoi — the documented curl
sequence), shows progress until every tile is DONE or FAILED, then says where everything is.
The payload is the reference's DenmarkDemoS2.json with the tile graph pointing at our bundled library.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import time
from typing import Any

from libs.http.aio import AsyncClient
from libs.demo.archive import build_demo_archive
from libs.stack.local import Stack, StackConfig, start_stack

PAYLOAD = pathlib.Path(__file__).with_name("demo_payload.json")
BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12"]
_REFRESH = 1.0  # seconds: progress display refresh while the AOI status does not change
_FINAL = ("DONE", "FAILED", "RETRY")


def say(text: str) -> None:
    print(text, flush=True)


async def register_layers(client: AsyncClient, layers: dict[str, Any]) -> None:
    """Creates the variables and instances the payload names; existing ones are kept (409)."""
    for layer in layers.values():
        answer = await client.post("/registry/variables", json={"name": layer["variable"], "dtype": "uint16"})
        if answer.status_code not in (200, 201, 409):
            raise RuntimeError(f"creating variable {layer['variable']}: {answer.status_code} {answer.text}")
        answer = await client.post(
            f"/registry/variables/{layer['variable']}/instances", json={"name": layer["instance"]}
        )
        if answer.status_code not in (200, 201, 409):
            raise RuntimeError(f"creating instance {layer['instance']}: {answer.status_code} {answer.text}")


def report_counts(text: str) -> dict[str, dict[str, int]]:
    """Parses the reference's AOI text report into {"Scenes": {...}, "Tiles": {...}}."""
    counts: dict[str, dict[str, int]] = {}
    section = ""
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line.rstrip(":")
            counts[section] = {}
        elif section in ("Scenes", "Tiles") and ":" in line:
            key, value = line.split(":", 1)
            counts[section][key.strip().lower()] = int(value.strip())
    return counts


async def wait_until_finished(client: AsyncClient, aoi: str, timeout: float) -> dict[str, dict[str, int]]:
    """Follows the AOI with the status long-poll; prints the report's counts whenever they change."""
    deadline = time.monotonic() + timeout
    last, status = None, ""
    while True:
        report = await client.get(f"/aoi/{aoi}")
        report.raise_for_status()
        counts = report_counts(report.text)
        scenes, tiles = counts["Scenes"], counts["Tiles"]
        line = (f"  scenes {scenes['done']}/{scenes['total']} done ({scenes['pending']} pending, {scenes['failed']} failed)"
                f" | tiles {tiles['done']}/{tiles['total']} done ({tiles['pending']} pending, {tiles['new']} waiting,"
                f" {tiles['failed']} failed)")
        if line != last:
            say(line)
            last = line
        if status in _FINAL:
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingestion not finished after {timeout:.0f} s")
        # Answers when the AOI status changes, or after _REFRESH seconds to refresh the counts above.
        answer = await client.get(f"/aoi/{aoi}/status", params={"known": status, "wait": _REFRESH})
        answer.raise_for_status()
        status = answer.json()["status"]


async def post_payload(client: AsyncClient, workdir: pathlib.Path, payload: bytes) -> str:
    """The documented sequence: /catalog/scenes, then /catalog/tiles, then /catalog/aoi."""
    area = ("payload.json", payload, "application/json")
    scenes = await client.post("/catalog/scenes", files={"area": area})
    if scenes.status_code != 200:
        raise RuntimeError(f"/catalog/scenes: {scenes.status_code} {scenes.text}")
    (workdir / "scenes.json").write_bytes(scenes.content)
    n = len(scenes.json()["features"])
    say(f"/catalog/scenes: {n} scenes found (saved to {workdir / 'scenes.json'})")
    tiles = await client.post(
        "/catalog/tiles", files={"area": area, "scenes": ("scenes.json", scenes.content)}
    )
    if tiles.status_code != 200:
        raise RuntimeError(f"/catalog/tiles: {tiles.status_code} {tiles.text}")
    (workdir / "tiles.json").write_bytes(tiles.content)
    say(f"/catalog/tiles: tiles listed (saved to {workdir / 'tiles.json'})")
    aoi = await client.post("/catalog/aoi", files={"area": area, "tiles": ("tiles.json", tiles.content)})
    if aoi.status_code != 200:
        raise RuntimeError(f"/catalog/aoi: {aoi.status_code} {aoi.text}")
    say(f"/catalog/aoi: {aoi.text.strip()}")
    return aoi.text


async def run_demo(
    workdir: pathlib.Path, count: int, band_size: int, timeout: float, config: StackConfig
) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    archive = pathlib.Path(config.archive_path or workdir / "archive")
    if not any(archive.glob("*.zip")):
        say(f"building a demo archive of {count} Sentinel-2 L1C products in {archive} ...")
        started = time.monotonic()
        build_demo_archive(archive, count=count, band_size=band_size)
        say(f"  done in {time.monotonic() - started:.1f} s")
    config.archive_path = str(archive)
    say("starting the services (embedded PostgreSQL unless a DSN is configured) ...")
    stack: Stack = await start_stack(config)
    try:
        say(
            f"  gateway {stack.gateway_url} (token in {workdir / 'token'}), catalogue gRPC {stack.catalogue_target}"
        )
        (workdir / "token").write_text(stack.token + "\n")
        payload = json.loads(PAYLOAD.read_text())
        headers = {"Authorization": f"Bearer {stack.token}"}
        async with AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=120) as client:
            await register_layers(client, payload["layers"])
            say(f"registered {len(payload['layers'])} variables with instance 'raw'")
            started = time.monotonic()
            await post_payload(client, workdir, PAYLOAD.read_bytes())
            counts = await wait_until_finished(client, payload["name"], timeout)
            elapsed = time.monotonic() - started
            datasets = (await client.get("/registry/datasets")).json()
            stac_items = (await client.get("/stac/search", params={"collections": payload["name"]})).json()
        say(f"finished in {elapsed:.1f} s")
        failed = counts["Scenes"]["failed"] + counts["Tiles"]["failed"] + counts["Tiles"]["retry"]
        say(f"outputs:   {stack.storage_path / payload['name']}")
        say(f"registry:  {len(datasets)} datasets indexed (GET {stack.gateway_url}/registry/datasets)")
        say(
            f"stac:      {stac_items.get('numberMatched', 0)} items: static catalog"
            f" {stack.storage_path / 'catalog.json'}, STAC API {stack.gateway_url}/stac (docs/stac.md)"
        )
        say(f"database:  {stack.database_dsn}")
        if failed:
            say(
                f"{failed} scenes/tiles did not end DONE: see GET {stack.gateway_url}/aoi/{payload['name']}/scenes"
            )
            return 1
        say("every scene and tile is DONE")
        return 0
    finally:
        await stack.stop()


def main(workdir: pathlib.Path, count: int, band_size: int, timeout: float, config: StackConfig) -> int:
    try:
        return asyncio.run(run_demo(workdir, count, band_size, timeout, config))
    except (RuntimeError, TimeoutError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
