"""`geocube-ingester up` as a user runs it (its own process, demo archive and layers), and the demo payload
posted with one product taken out of the archive between the search and the ingestion, so its download
fails as it does when an archive loses a file: the scene ends RETRY, and comes back once the file is
restored and the scene retried."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
from typing import Any

import httpx

from libs.stack import demo
from libs.stack.processes import free_port
from tests.e2e.conftest import Service

AOI = "DenmarkDemoS2"
TOKEN = "e2e-dashboard-token"


@dataclasses.dataclass
class DemoStack:
    url: str
    archive: pathlib.Path
    aside: pathlib.Path  # where the withheld product waits
    service: Service

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)

    def post_with_missing_product(self) -> str:
        """Posts /catalog/scenes, /catalog/tiles, then /catalog/aoi without one product in the archive;
        returns the withheld product's source id."""
        area = ("payload.json", demo.PAYLOAD.read_bytes(), "application/json")
        with self.client() as client:
            scenes = client.post("/catalog/scenes", files={"area": area})
            assert scenes.status_code == 200, scenes.text
            assert len(scenes.json()["features"]) == 2
            tiles = client.post(
                "/catalog/tiles", files={"area": area, "scenes": ("scenes.json", scenes.content)}
            )
            assert tiles.status_code == 200, tiles.text
            withheld = max(self.archive.glob("*.zip"))
            shutil.move(withheld, self.aside / withheld.name)
            ingested = client.post(
                "/catalog/aoi", files={"area": area, "tiles": ("tiles.json", tiles.content)}
            )
            assert ingested.status_code == 200, ingested.text
        return withheld.name.removesuffix(".zip")

    def restore_products(self) -> None:
        for product in self.aside.glob("*.zip"):
            shutil.move(product, self.archive / product.name)

    def scenes(self) -> list[dict[str, Any]]:
        with self.client() as client:
            answer = client.get(f"/ui/api/aoi/{AOI}/scenes")
            assert answer.status_code == 200, answer.text
            scenes: list[dict[str, Any]] = answer.json()["scenes"]
            return scenes


def start(tmp_path: pathlib.Path, database_dsn: str, services: list[Service]) -> DemoStack:
    workdir = tmp_path / "var"
    http = f"127.0.0.1:{free_port()}"
    service = Service(
        "up",
        "libs.cli",
        {},
        ("up", "--workdir", str(workdir), "--database-dsn", database_dsn, "--http", http,
         "--grpc", f"127.0.0.1:{free_port()}", "--token", TOKEN, "--demo-archive", "2"),
    )  # fmt: skip
    services.append(service)
    service.wait_for("Ctrl-C stops", timeout=180)
    aside = tmp_path / "withheld"
    aside.mkdir()
    return DemoStack(f"http://{http}", workdir / "archive", aside, service)
