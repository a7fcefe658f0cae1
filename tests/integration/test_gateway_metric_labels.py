"""The gateway's metrics over its real socket: what a client sends never becomes a label value (a series
per value would grow without bound on a public port)."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import serve
from gateway.settings import GatewaySettings

TIMEOUT = 30.0


async def test_invented_methods_share_one_label_value() -> None:
    # No catalogue: unknown paths and methods are answered by the gateway alone.
    settings = GatewaySettings(address="127.0.0.1:0", catalogue_address="127.0.0.1:1", bearer_tokens=("t",))
    gateway = await asyncio.wait_for(serve(settings), TIMEOUT)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT) as client:
            invented = [f"FOO{i}" for i in range(5)]
            for method in invented:
                answer = await client.request(method, "/aoi/x")
                assert answer.status_code in (404, 405), (method, answer.status_code)
            assert (await client.get("/no/such/path")).status_code == 404
            scraped = await client.get("/metrics")
    finally:
        await asyncio.wait_for(gateway.stop(), TIMEOUT)
    assert scraped.status_code == 200
    methods: dict[str, float] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name == "geocube_http_requests_total":
                label = sample.labels["method"]
                methods[label] = methods.get(label, 0) + sample.value
    assert not any(m.startswith("FOO") for m in methods), methods
    assert methods == {"other": 5, "GET": 1}
