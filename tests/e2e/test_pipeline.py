"""The whole suite as separate processes: the gateway driven exactly as `curl -F` drives it."""

from __future__ import annotations

import json
import pathlib
import time

import httpx
import pytest

from libs.demo.archive import build_demo_archive
from libs.stack.processes import free_port
from tests.e2e.conftest import Service

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"
TOKEN = "e2e-secret"


def _report(client: httpx.Client, aoi: str) -> str:
    answer = client.get(f"/aoi/{aoi}")
    assert answer.status_code == 200, answer.text
    return answer.text


def _wait_final(client: httpx.Client, aoi: str, timeout: float = 120) -> str:
    """Follows the AOI status with the gateway's long-poll until it is final (no sleep-polling)."""
    deadline = time.monotonic() + timeout
    known = ""
    while known not in ("DONE", "FAILED", "RETRY"):
        assert time.monotonic() < deadline, f"AOI {aoi} still {known} after {timeout} s"
        answer = client.get(f"/aoi/{aoi}/status", params={"known": known, "wait": 30})
        assert answer.status_code == 200, answer.text
        known = answer.json()["status"]
    return known


@pytest.mark.e2e
def test_demo_payload_through_separate_processes(services: list[Service], pg_dsn: str, tmp_path: pathlib.Path) -> None:
    archive, storage = tmp_path / "archive", tmp_path / "storage"
    ids = build_demo_archive(archive, count=3, band_size=32)
    grpc_port, http_port = free_port(), free_port()
    # The gRPC tokens as on Kubernetes: files of a mounted Secret (the catalogue's with two tokens, mid-rotation).
    (tmp_path / "catalogue-tokens").write_text("old-grpc-token\nnew-grpc-token\n")
    (tmp_path / "catalogue-token").write_text("new-grpc-token\n")
    client_token = {"CATALOGUE_TOKEN_FILE": str(tmp_path / "catalogue-token")}
    catalogue = Service("catalogue", "services.catalogue", {
        "GEOCUBE_CATALOGUE_DATABASE_DSN": pg_dsn, "GEOCUBE_CATALOGUE_ADDRESS": f"127.0.0.1:{grpc_port}",
        "GEOCUBE_CATALOGUE_ARCHIVE_PATH": str(archive),
        "GEOCUBE_CATALOGUE_AUTH_TOKENS_FILE": str(tmp_path / "catalogue-tokens"),
    })
    services.append(catalogue)
    catalogue.wait_for("catalogue listening")
    target = f"127.0.0.1:{grpc_port}"
    for name, extra in (("downloader", {"LOCAL_PATH": str(archive)}), ("processor", {})):
        env = {"CATALOGUE_ADDRESS": target, "STORAGE_URI": str(storage), "WORKDIR": str(tmp_path / name),
               "ADDRESS": f"127.0.0.1:{free_port()}", "LOG_LEVEL": "INFO", "AUTH_TOKENS": "worker-token",
               **client_token, **extra}
        services.append(Service(name, f"services.{name}", {f"GEOCUBE_{name.upper()}_{k}": v for k, v in env.items()}))
    processor = services[-1]
    gateway = Service("gateway", "gateway", {
        "GEOCUBE_GATEWAY_ADDRESS": f"127.0.0.1:{http_port}", "GEOCUBE_GATEWAY_CATALOGUE_ADDRESS": target,
        "GEOCUBE_GATEWAY_BEARER_TOKENS": TOKEN, "GEOCUBE_GATEWAY_LOG_LEVEL": "INFO",
        "GEOCUBE_GATEWAY_CATALOGUE_TOKEN_FILE": client_token["CATALOGUE_TOKEN_FILE"],
    })
    services.append(gateway)
    gateway.wait_for(f"127.0.0.1:{http_port}")

    payload = (SHARED / "fixtures" / "reference" / "DenmarkDemoS2.json").read_bytes()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", headers=headers, timeout=60) as client:
        assert client.get("/catalog/scenes", headers={"Authorization": ""}).status_code == 403
        for layer in json.loads(payload)["layers"].values():
            assert client.post("/registry/variables", json={"name": layer["variable"], "dtype": "uint16"}).status_code == 201
            assert client.post(f"/registry/variables/{layer['variable']}/instances",
                               json={"name": layer["instance"]}).status_code == 201
        # curl -F "area=@DenmarkDemoS2.json" …/catalog/scenes > scenes.json
        scenes = client.post("/catalog/scenes", files={"area": ("DenmarkDemoS2.json", payload)})
        assert scenes.status_code == 200, scenes.text
        found = [f["properties"]["source_id"] for f in scenes.json()["features"]]
        assert sorted(found) == sorted(ids)
        # curl -F area=@… -F scenes=@scenes.json …/catalog/aoi
        answer = client.post("/catalog/aoi", files={"area": ("a.json", payload), "scenes": ("scenes.json", scenes.content)})
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith(f"Ingestion of {len(ids)} scenes and {len(ids)} tiles in progress (")
        assert _wait_final(client, "DenmarkDemoS2") == "DONE"
        report = _report(client, "DenmarkDemoS2")
        assert report.startswith("Scenes:\n  new:     0\n  pending: 0\n  done:    3\n")
        assert "Tiles:\n  new:     0\n  pending: 0\n  done:    3\n  retry:   0\n  failed:  0\n  Total:   3\n" in report
        datasets = client.get("/registry/datasets").json()
    for source_id in ids:
        # The processor deletes a tile's inputs just after its DONE report is accepted.
        processor.wait_for(rf"deleted input \S*{source_id} __product__", timeout=10)
        tile_dir = storage / "DenmarkDemoS2" / source_id / "tiles" / source_id
        assert len(list(tile_dir.glob("*_B??.tif"))) == 12
        assert not (tile_dir / f"{source_id}.zip").exists()  # the product is deleted once indexed
    # The fixture's tile graph (library/graph/ExtractS2Bands.json) indexes 12 bands per scene.
    assert len(datasets) == 12 * len(ids)
