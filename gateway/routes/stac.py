"""`/stac`: a STAC API (1.0: core, collections, features, item-search) over the catalogue's items.

The catalogue stores each Item without links; they are added here for the URL the client used (or
GEOCUBE_GATEWAY_PUBLIC_URL behind a proxy). Errors are the STAC API's JSON `{"code", "description"}`.
Authentication is the gateway's bearer token, except for the OpenAPI description (no data in it; the
validators fetch it without credentials).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from gateway import forms, stac_openapi, stac_search
from gateway.errors import GatewayError
from gateway.routing import Call, Gateway, GoRoute
from protos.ingester.v1 import registry_pb2
from libs.stac import collections as stac_collections

STAC_VERSION = "1.1.0"
GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
_MAX_BODY = 1024 * 1024
_ERROR_CODES = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 503: "ServiceUnavailable"}


def _json(value: Any, status: int = 200, media_type: str = JSON) -> Response:
    return Response(json.dumps(value).encode(), status_code=status, headers={"Content-Type": media_type})


def _error(status: int, text: str) -> Response:
    code = _ERROR_CODES.get(status, "Error")
    return _json({"code": code, "description": text.strip() or code}, status)


def _base(call: Call) -> str:
    """Root URL of the STAC API, without a trailing slash."""
    public = call.settings.public_url.rstrip("/")
    if public:
        return f"{public}/stac"
    return str(call.request.base_url).rstrip("/") + "/stac"


def _link(rel: str, href: str, media_type: str = JSON, **extra: Any) -> dict[str, Any]:
    return {"rel": rel, "href": href, "type": media_type, **extra}


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _item(base: str, item: dict[str, Any]) -> dict[str, Any]:
    collection_url = f"{base}/collections/{_q(item['collection'])}"
    item["links"] = [
        _link("self", f"{collection_url}/items/{_q(item['id'])}", GEOJSON),
        _link("parent", collection_url),
        _link("collection", collection_url),
        _link("root", base),
    ]
    return item


def _collection(base: str, summary: registry_pb2.ItemCollection) -> dict[str, Any]:
    collection = stac_collections.build_collection(
        summary.id,
        list(summary.bbox) or None,
        summary.start.ToDatetime(tzinfo=dt.UTC) if summary.HasField("start") else None,
        summary.end.ToDatetime(tzinfo=dt.UTC) if summary.HasField("end") else None,
    )
    doc = collection.to_dict(include_self_link=False, transform_hrefs=False)
    url = f"{base}/collections/{_q(summary.id)}"
    doc["links"] = [
        _link("self", url),
        _link("parent", base),
        _link("root", base),
        _link("items", f"{url}/items", GEOJSON),
    ]
    return doc


Handler = Callable[[Call], Awaitable[Response]]


def _stac(handler: Handler) -> Handler:
    """Answers the gateway's errors (and the catalogue's, mapped by the error table) as STAC JSON."""

    async def wrapped(call: Call) -> Response:
        try:
            return await handler(call)
        except GatewayError as exc:
            return _error(exc.status, exc.text)

    return wrapped


async def landing(call: Call) -> Response:
    base = _base(call)
    return _json(
        {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": stac_collections.CATALOG_ID,
            "title": stac_collections.CATALOG_TITLE,
            "description": stac_collections.CATALOG_DESCRIPTION,
            "conformsTo": CONFORMANCE,
            "links": [
                _link("self", base),
                _link("root", base),
                _link("conformance", f"{base}/conformance"),
                _link("data", f"{base}/collections"),
                _link("search", f"{base}/search", GEOJSON, method="GET"),
                _link("search", f"{base}/search", GEOJSON, method="POST"),
                _link("service-desc", f"{base}/api", OPENAPI),
            ],
        }
    )


async def conformance(call: Call) -> Response:
    return _json({"conformsTo": CONFORMANCE})


async def openapi(call: Call) -> Response:
    return _json(stac_openapi.document(_base(call)), media_type=OPENAPI)


async def list_collections(call: Call) -> Response:
    base = _base(call)
    answer = await call.rpc(
        call.gateway.client.registry.ListItemCollections, registry_pb2.ListItemCollectionsRequest()
    )
    return _json(
        {
            "collections": [_collection(base, c) for c in answer.collections],
            "links": [_link("self", f"{base}/collections"), _link("root", base), _link("parent", base)],
        }
    )


async def _one_collection(call: Call, collection_id: str) -> registry_pb2.ItemCollection:
    request = registry_pb2.ListItemCollectionsRequest(ids=[collection_id])
    answer = await call.rpc(call.gateway.client.registry.ListItemCollections, request)
    if not answer.collections:
        raise GatewayError(404, f"collection {collection_id} not found")
    return answer.collections[0]


async def get_collection(call: Call) -> Response:
    summary = await _one_collection(call, call.params["collection"])
    return _json(_collection(_base(call), summary))


async def _search(call: Call, request: registry_pb2.SearchItemsRequest) -> registry_pb2.SearchItemsResponse:
    return await call.rpc(call.gateway.client.registry.SearchItems, request)


def _page(
    call: Call, answer: registry_pb2.SearchItemsResponse, self_url: str, next_link: dict[str, Any] | None
) -> Response:
    base = _base(call)
    features = [_item(base, json.loads(text)) for text in answer.items_json]
    links = [_link("self", self_url, GEOJSON), _link("root", base)]
    if next_link is not None:
        links.append(next_link)
    body: dict[str, Any] = {"type": "FeatureCollection", "features": features, "links": links}
    if answer.matched >= 0:
        body["numberMatched"] = answer.matched
    body["numberReturned"] = len(features)
    return _json(body, media_type=GEOJSON)


def _self_url(call: Call, url: str) -> str:
    """`url` with the request's query: the request's own URL as the client (behind a proxy) knows it."""
    query = call.request.url.query
    return f"{url}?{query}" if query else url


def _next_get(call: Call, url: str, token: str) -> dict[str, Any] | None:
    if not token:
        return None
    query = [(k, v) for k, v in call.request.query_params.multi_items() if k != "token"]
    query.append(("token", token))
    return _link("next", f"{url}?{urllib.parse.urlencode(query)}", GEOJSON, method="GET")


async def search_get(call: Call) -> Response:
    request = stac_search.request_from_query(call.request.query_params)
    answer = await _search(call, request)
    url = f"{_base(call)}/search"
    return _page(call, answer, _self_url(call, url), _next_get(call, url, answer.next_token))


async def search_post(call: Call) -> Response:
    raw = await forms.read_body(call.request, _MAX_BODY)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise GatewayError(400, f"invalid JSON body: {exc}") from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise GatewayError(400, "invalid JSON body: nested too deeply") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid JSON body: expected an object")
    answer = await _search(call, stac_search.request_from_body(body))
    url = f"{_base(call)}/search"
    next_link = None
    if answer.next_token:
        next_link = _link("next", url, GEOJSON, method="POST", body={**body, "token": answer.next_token})
    return _page(call, answer, url, next_link)


async def collection_items(call: Call) -> Response:
    collection_id = call.params["collection"]
    await _one_collection(call, collection_id)  # 404 for an unknown collection, not an empty page
    query = call.request.query_params
    if "collections" in query:
        raise GatewayError(400, "collections: not a parameter of a collection's items")
    answer = await _search(call, stac_search.request_from_query(query, collection_id))
    url = f"{_base(call)}/collections/{_q(collection_id)}/items"
    return _page(call, answer, _self_url(call, url), _next_get(call, url, answer.next_token))


async def get_item(call: Call) -> Response:
    collection_id, item_id = call.params["collection"], call.params["item"]
    request = registry_pb2.SearchItemsRequest(collections=[collection_id], ids=[item_id], limit=1)
    answer = await _search(call, request)
    if not answer.items_json:
        raise GatewayError(404, f"item {item_id} not found in collection {collection_id}")
    return _json(_item(_base(call), json.loads(answer.items_json[0])), media_type=GEOJSON)


def routes(gateway: Gateway) -> list[GoRoute]:
    return [
        GoRoute("/stac", {"GET": _stac(landing)}, gateway),
        GoRoute("/stac/conformance", {"GET": _stac(conformance)}, gateway),
        GoRoute("/stac/api", {"GET": _stac(openapi)}, gateway, public=True),
        GoRoute("/stac/collections", {"GET": _stac(list_collections)}, gateway),
        GoRoute("/stac/collections/{collection}", {"GET": _stac(get_collection)}, gateway),
        GoRoute("/stac/collections/{collection}/items", {"GET": _stac(collection_items)}, gateway),
        GoRoute("/stac/collections/{collection}/items/{item}", {"GET": _stac(get_item)}, gateway),
        GoRoute("/stac/search", {"GET": _stac(search_get), "POST": _stac(search_post)}, gateway),
    ]
