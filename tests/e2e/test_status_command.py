"""`geocube-ingester status AOI`, the real command in its own process, against `geocube-ingester up`: it
follows an ingestion until it settles, names what failed and exits 1, and exits 0 once a retry brings the
AOI to DONE."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import requests

from tests.e2e import demo_stack
from tests.e2e.conftest import ROOT, Service


def status(
    stack: demo_stack.DemoStack, *args: str, token: str = demo_stack.TOKEN
) -> subprocess.CompletedProcess[str]:
    # COLUMNS: rich wraps to the terminal width, 80 when output is piped; wide enough for whole messages.
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "libs.cli", "status", *args, "--url", stack.url, "--token", token],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.e2e
def test_status_follows_until_settled_and_reports_failures(
    tmp_path: pathlib.Path, pg_dsn: str, services: list[Service]
) -> None:
    stack = demo_stack.start(tmp_path, pg_dsn, services)
    withheld = stack.post_with_missing_product()
    # Started while the downloads run: it follows the long-poll until nothing is queued or running.
    followed = status(stack, demo_stack.AOI)
    assert followed.returncode == 1, followed.stdout + followed.stderr
    out = followed.stdout
    assert "DenmarkDemoS2: RETRY, 1/2 tiles DONE; 1 scenes/tiles FAILED or RETRY" in out
    [row] = [line for line in out.splitlines() if withheld in line and "RETRY" in line]
    assert "Product not found or unavailable" in row
    assert "scenes" in out and "1/2" in out  # the progress bars

    stack.restore_products()
    [scene] = [s for s in stack.scenes() if s["source_id"] == withheld]
    with stack.client() as client:
        assert client.put(f"/scene/{scene['id']}/retry").status_code == 200
    done = status(stack, demo_stack.AOI)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("DenmarkDemoS2: DONE, 2/2 tiles DONE")
    assert "needs attention" not in done.stdout
    once = status(stack, demo_stack.AOI, "--once")
    assert once.returncode == 0 and "2/2" in once.stdout

    # What cannot be read: one line and exit 2, no traceback.
    unknown = status(stack, "Nowhere", "--once")
    assert unknown.returncode == 2
    assert "status: GET /ui/api/aoi/Nowhere: 404 aoi: unknown AOI 'Nowhere'" in unknown.stdout
    refused = status(stack, demo_stack.AOI, token="wrong")
    assert refused.returncode == 2 and "the gateway refused the token" in refused.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr + refused.stdout + refused.stderr
    # The stack is still serving after all of the above.
    assert requests.get(stack.url + "/", timeout=30).text == "ingester ok"


def test_status_help_names_the_exit_codes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "libs.cli", "status", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "--once" in result.stdout and "--url" in result.stdout
    assert "Exit status: 0 when every scene and tile is DONE" in result.stdout
