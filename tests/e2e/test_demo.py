"""The README's first command must not rot: `geocube-ingester demo` on the embedded PostgreSQL."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pystac
import pytest

from libs.stack.processes import free_port
from tests.e2e.conftest import ROOT


@pytest.mark.e2e
def test_demo_command_completes_on_embedded_postgres(tmp_path: pathlib.Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEOCUBE_", "PG"))}
    result = subprocess.run(
        [sys.executable, "-m", "libs.cli", "demo", "--workdir", str(tmp_path / "var"), "--scenes", "2",
         "--band-size", "64", "--http", f"127.0.0.1:{free_port()}", "--grpc", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every scene and tile is DONE" in result.stdout
    assert "24 datasets indexed" in result.stdout  # 2 scenes x 12 bands
    storage = tmp_path / "var" / "storage" / "DenmarkDemoS2"
    assert len(list(storage.glob("*/tiles/*/*_B??.tif"))) == 24
    # ExtractS2Bands deletes the downloaded product once its bands are indexed.
    assert not list(storage.glob("*/tiles/*/*.zip"))
    # The STAC output: one item per tile in the API and in the static catalog beside the outputs.
    assert "stac:      2 items" in result.stdout
    catalog = pystac.Catalog.from_file(str(tmp_path / "var" / "storage" / "catalog.json"))
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 2 and all(len(i.assets) == 12 for i in items)


@pytest.mark.e2e
def test_up_honours_catalogue_settings_and_names_a_bad_one(tmp_path: pathlib.Path) -> None:
    """`up` applies the GEOCUBE_CATALOGUE_* environment (here a broken scene-source chain) and stops with
    one line naming the variable, after cleaning up its embedded PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEOCUBE_", "PG"))}
    env["GEOCUBE_CATALOGUE_SCENE_SOURCES"] = "sentinel2=bogus"
    result = subprocess.run(
        [sys.executable, "-m", "libs.cli", "up", "--workdir", str(tmp_path / "var"),
         "--http", f"127.0.0.1:{free_port()}", "--grpc", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "up: GEOCUBE_CATALOGUE_SCENE_SOURCES: unknown source 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr
