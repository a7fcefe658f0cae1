"""schemathesis over every operation of the OpenAPI document, against the real gateway and the real
catalogue (real PostgreSQL): no answer may be a server error (its `not_a_server_error` check).

The budget is bounded (EXAMPLES per operation and generation mode, no shrinking) and derandomized, so
that CI runs the same cases each time; GEOCUBE_FUZZ_EXAMPLES=200 digs deeper with fresh random cases
(the convention of test_grpc_malformed.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from support.gatewaystack import running_stack

from gateway import openapi
from gateway.settings import GatewaySettings

EXAMPLES = int(os.environ.get("GEOCUBE_FUZZ_EXAMPLES", "12"))
TIMEOUT = 30.0
# The long-poll may legitimately wait 60 s: the harness caps it (its parsing is still fuzzed).
MAX_WAIT = 0.2


@dataclasses.dataclass(frozen=True)
class Failure:
    operation: str
    status: int
    body: str
    curl: str


def _seed(http: httpx.Client) -> None:
    """Something to find: an AOI with a scene and a tile, a variable with an instance (ids 1)."""
    assert http.post("/aoi/Fuzz").status_code == 204
    scene = {
        "source_id": "S",
        "aoi": "Fuzz",
        "data": {"tiles": {"T": {"swath_id": "", "tile_nr": 0}}, "graph_name": "Pass"},
        "tiles": {"T": {"data": {"graph_name": "Pass"}}},
    }
    answer = http.post("/aoi/Fuzz/scene", json=scene)
    assert answer.status_code == 200, answer.text
    assert http.post("/registry/variables", json={"name": "B01", "dtype": "uint16"}).status_code == 201
    assert http.post("/registry/variables/B01/instances", json={"name": "raw"}).status_code == 201


def _fuzz(base_url: str, headers: dict[str, str]) -> tuple[int, list[Failure]]:
    schema = schemathesis.openapi.from_dict(openapi.document())
    session = requests.Session()
    failures: dict[tuple[str, int, str], Failure] = {}
    sent = 0

    def run(operation: Any, mode: GenerationMode) -> None:
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize="GEOCUBE_FUZZ_EXAMPLES" not in os.environ,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def one(case: Any) -> None:
            nonlocal sent
            wait = (case.query or {}).get("wait")
            if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > MAX_WAIT:
                case.query["wait"] = MAX_WAIT
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=TIMEOUT)
            sent += 1
            try:
                case.validate_response(response, checks=[not_a_server_error], headers=headers)
            except (AssertionError, FailureGroup):  # collected, reported together below
                key = (operation.label, response.status_code, response.text[:80])
                failures.setdefault(
                    key,
                    Failure(
                        operation.label, response.status_code, response.text[:300], case.as_curl_command()
                    ),
                )

        try:
            one()
        except hypothesis.errors.Unsatisfiable:
            # An operation without parameters or body has no invalid form to send.
            if mode is GenerationMode.POSITIVE:
                raise

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode)
    return sent, list(failures.values())


async def test_no_operation_answers_a_server_error(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    settings = GatewaySettings(rpc_timeout_seconds=TIMEOUT, catalogue_timeout_seconds=TIMEOUT)
    async with running_stack(pg_dsn, tmp_path, settings) as stack:
        with httpx.Client(base_url=stack.url, headers=stack.headers, timeout=TIMEOUT) as http:
            await asyncio.to_thread(_seed, http)
        sent, failures = await asyncio.to_thread(_fuzz, stack.url, stack.headers)
    operations = sum(len(ops) for ops in openapi.document()["paths"].values())
    # Every operation was exercised (a case per operation at least).
    assert sent >= operations * EXAMPLES, sent
    assert failures == [], "\n".join(f"{f.operation} -> {f.status} {f.body!r}\n  {f.curl}" for f in failures)
