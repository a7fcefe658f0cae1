"""The OpenAPI document matches the router: every route documented, every documented path routed, with
the same methods; it is served without authentication and is a valid OpenAPI 3 document."""

from __future__ import annotations

import asyncio
import json

import httpx
import schemathesis

from gateway import openapi
from gateway.app import create_app, serve
from gateway.routing import GoRoute
from gateway.settings import GatewaySettings

TIMEOUT = 30.0


def test_every_route_is_documented_and_every_documented_path_is_routed() -> None:
    app = create_app(GatewaySettings())
    routed = {route.path: set(route.handlers) for route in app.routes if isinstance(route, GoRoute)}
    documented = {
        path: {method.upper() for method in operations}
        for path, operations in openapi.document()["paths"].items()
    }
    assert routed == documented
    # Sanity of the comparison itself: the API has dozens of routes, /openapi.json among them.
    assert len(routed) > 30 and routed[openapi.PATH] == {"GET"}


def test_path_parameters_match_the_templates() -> None:
    for path, operations in openapi.document()["paths"].items():
        template = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == template, (method, path)


def test_public_operations_are_those_of_public_routes() -> None:
    app = create_app(GatewaySettings())
    public = {route.path for route in app.routes if isinstance(route, GoRoute) and route.public}
    documented = {
        path
        for path, operations in openapi.document()["paths"].items()
        if all(operation.get("security") == [] for operation in operations.values())
    }
    assert public == documented == {"/", "/metrics", openapi.PATH, "/ui", "/ui/", "/stac/api"}


def test_the_document_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(openapi.document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in openapi.document()["paths"].values())


async def test_served_without_authentication() -> None:
    settings = GatewaySettings(address="127.0.0.1:0", catalogue_address="127.0.0.1:9", bearer_tokens=("t",))
    running = await asyncio.wait_for(serve(settings), TIMEOUT)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=TIMEOUT) as http:
            answer = await http.get(openapi.PATH)
            refused = await http.get("/aoi/")
    finally:
        await asyncio.wait_for(running.stop(), TIMEOUT)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert json.loads(answer.content) == openapi.document()
    assert refused.status_code == 403
