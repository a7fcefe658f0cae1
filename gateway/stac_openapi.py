"""The OpenAPI 3.0 description of the STAC API (the landing page's `service-desc`)."""

from __future__ import annotations

from typing import Any

from gateway.stac_search import DEFAULT_LIMIT, MAX_LIMIT

_GEOJSON = "application/geo+json"
_JSON = "application/json"


def _get(summary: str, media_type: str = _JSON, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {"200": {"description": summary, "content": {media_type: {}}}},
        }
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_SEARCH_PARAMS = [
    _query("bbox", "west,south,east,north (EPSG:4326)", {"type": "string"}),
    _query("datetime", "an RFC 3339 instant or interval start/end (.. or empty: open)", {"type": "string"}),
    _query("ids", "comma-separated item ids", {"type": "string"}),
    _query("collections", "comma-separated collection ids (AOIs)", {"type": "string"}),
    _query("intersects", "a GeoJSON geometry", {"type": "string"}),
    _query("limit", "items per page", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
    _query("token", "the paging token of a next link", {"type": "string"}),
]


def document(base: str) -> dict[str, Any]:
    search = _get("Item search", _GEOJSON, _SEARCH_PARAMS)
    search["post"] = {
        "summary": "Item search (JSON body with the same parameters)",
        "requestBody": {"content": {_JSON: {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "Items", "content": {_GEOJSON: {}}}},
    }
    items_params = [_path_param("collection"), *[p for p in _SEARCH_PARAMS if p["name"] != "collections"]]
    return {
        "openapi": "3.0.3",
        "info": {"title": "geocube-ingester STAC API", "version": "1.0.0"},
        "servers": [{"url": base}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/": _get("Landing page"),
            "/conformance": _get("Conformance classes"),
            "/collections": _get("Collections (one per AOI)"),
            "/collections/{collection}": _get("A collection", params=[_path_param("collection")]),
            "/collections/{collection}/items": _get("Items of a collection", _GEOJSON, items_params),
            "/collections/{collection}/items/{item}": _get(
                "An item", _GEOJSON, [_path_param("collection"), _path_param("item")]
            ),
            "/search": search,
        },
    }
