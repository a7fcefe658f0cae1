"""The OpenAPI 3 document of the whole HTTP API, served at `GET /openapi.json` (no authentication: it
describes the API and holds no data, like `GET /`).

Written once here, next to the routes; tests/unit/test_gateway_openapi.py checks it against the
router (every route documented, every documented path routed, same methods) and
tests/integration/test_gateway_fuzz.py fuzzes every operation with schemathesis. The prose reference is
docs/api.md; the limits come from `gateway.inputs`.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from starlette.responses import Response

from gateway import inputs, responses, stac_openapi
from gateway.routing import Call, Gateway, GoRoute

PATH = "/openapi.json"
_TEXT = "text/plain"
_JSON = "application/json"
_STATUSES = ["NEW", "PENDING", "DONE", "RETRY", "FAILED"]

# ------------------------------------------------------------------------------------------------
# Building blocks


def _name_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": inputs.MAX_NAME_CHARS},
    }


def _id_param(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s integer id (`400` empty when not an integer).",
        "schema": {"type": "integer", "format": "int64"},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_AOI = _name_param("aoi", "AOI name (monitoring reads and retries accept `*`/`?` patterns).")
_STATUS_FILTER = _name_param("status", "Status name, uppercase (`DONE`); any other text matches nothing.")
_FORCED = _name_param("status", "Status name in any case: NEW, PENDING, DONE, RETRY or FAILED.")
_PAGING = [
    _query("page", {"type": "integer"}, "Page number (default 0)."),
    _query("limit", {"type": "integer"}, "Page size (default -1: everything)."),
]


def _answer(
    description: str, media: str | None = _TEXT, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if media is not None:
        answer["content"] = {media: {"schema": schema or {"type": "string"}}}
    return answer


def _empty(description: str) -> dict[str, Any]:
    return {"description": description}


_ERRORS = {
    "400": _answer("Bad input: the body names the field and the reason (empty for some reference answers)."),
    "403": _answer(
        "Missing or unknown bearer token (a JSON string); for status changes: the status refuses it."
    ),
    "408": _answer("The request body was not received within `GEOCUBE_GATEWAY_BODY_TIMEOUT_SECONDS`."),
    "413": _answer("Body larger than `GEOCUBE_GATEWAY_MAX_UPLOAD_BYTES`."),
    "503": _answer("The catalogue or its database is unavailable: retry later."),
    "504": _answer("The catalogue did not answer in time."),
}


def _operation(
    summary: str,
    answers: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**answers, **({} if public else _ERRORS)}}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {_JSON: {"schema": schema}}}


def _form_body(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    """Multipart form whose parts are JSON documents (`curl -F area=@payload.json`)."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": properties, "required": required}
    encoding = {name: {"contentType": "application/json, application/octet-stream"} for name in fields}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": schema, "encoding": encoding},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


# ------------------------------------------------------------------------------------------------
# Schemas (the reference's JSON formats; keys of the workflow bodies match case-insensitively)

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True}
_TILE_ATTRS = {
    "type": "object",
    "properties": {
        "swath_id": {"type": "string"},
        "tile_nr": {"type": "integer", "format": "int32"},
        "graph_name": {"type": "string", "maxLength": inputs.MAX_NAME_CHARS},
        "is_retriable": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_SCENE_ATTRS = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date-time"},
        "tiles": {
            "type": "object",
            "nullable": True,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "swath_id": {"type": "string"},
                    "tile_nr": {"type": "integer", "format": "int32"},
                },
                "additionalProperties": False,
            },
        },
        "graph_name": {"type": "string", "maxLength": inputs.MAX_NAME_CHARS},
        "graph_config": _STRING_MAP,
        "record_id": {"type": "string"},
        "instances_id": _STRING_MAP,
        "metadata": {"type": "object", "nullable": True},
        "is_retriable": {"type": "boolean"},
        "storage_uri": {"type": "string"},
    },
    "additionalProperties": False,
}
_LINK = {"type": "string"}
_SCENE_TO_INGEST = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "format": "int64", "description": "Must be 0."},
        "source_id": {"type": "string"},
        "aoi": {"type": "string", "description": "Must be the path's `{aoi}`."},
        "data": _SCENE_ATTRS,
        "tiles": {
            "type": "object",
            "nullable": True,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "previous_tile_id": _LINK,
                    "previous_scene_id": _LINK,
                    "reference_tile_id": _LINK,
                    "reference_scene_id": _LINK,
                    "data": _TILE_ATTRS,
                },
                "additionalProperties": False,
            },
        },
        "retry_count": {"type": "integer", "format": "int32"},
    },
    "additionalProperties": False,
}
_NEW_VARIABLE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": inputs.MAX_NAME_CHARS},
        "unit": {"type": "string", "maxLength": inputs.MAX_NAME_CHARS},
        "description": {"type": "string"},
        "dtype": {
            "type": "string",
            "enum": ["uint8", "uint16", "int16", "int32", "uint32", "float32", "float64", "complex64"],
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}
_NEW_INSTANCE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": inputs.MAX_NAME_CHARS},
        "metadata": _STRING_MAP,
    },
    "required": ["name"],
    "additionalProperties": False,
}
_INSTANCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "variable_id": {"type": "string"},
        "name": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_VARIABLE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "unit": {"type": "string"},
        "description": {"type": "string"},
        "dtype": {"type": "string"},
        "instances": {"type": "array", "items": _INSTANCE},
    },
}
_AREA_FIELD = (
    "The ingestion payload (a GeoJSON Feature, FeatureCollection or geometry with `name`, `start_time`, "
    "`end_time`, `scene_type`, `scene_graph_name`, `tile_graph_name`, `layers`, `record_tags`, … — "
    "docs/api.md). Names are at most 256 characters; JSON is at most 64 levels deep."
)


# ------------------------------------------------------------------------------------------------
# The document


def _catalog() -> dict[str, Any]:
    collection = _answer("The scenes collection (GeoJSON FeatureCollection, served as text/plain).")
    area_only = _form_body({"area": _AREA_FIELD}, ["area"])
    with_scenes = _form_body(
        {"area": _AREA_FIELD, "scenes": "A scenes collection from `/catalog/scenes`."}, ["area", "scenes"]
    )
    ingest = _form_body(
        {
            "area": _AREA_FIELD,
            "scenes": "Scenes to tile (from `/catalog/scenes`).",
            "tiles": "Tiled scenes used as given (from `/catalog/tiles`).",
        },
        ["area"],
    )
    search = _operation("Search scenes of an area", {"200": collection}, parameters=_PAGING, body=area_only)
    tiles = _operation("Tile uploaded scenes", {"200": collection}, body=with_scenes)
    return {
        "/catalog/scenes": {"get": search, "post": search},
        "/catalog/tiles": {"get": tiles, "post": tiles},
        "/catalog/aoi": {
            "post": _operation(
                "Ingest an area",
                {"200": _answer("`Ingestion of <N> scenes and <M> tiles in progress (<duration>)`.")},
                parameters=_PAGING,
                body=ingest,
            )
        },
    }


def _monitoring() -> dict[str, Any]:
    json_text = _answer("JSON (served as text/plain, as the reference).")
    wait = _query("wait", {"type": "number", "minimum": 0}, "Seconds to wait for a change (at most 60).")
    known = _query("known", {"type": "string", "enum": ["", *_STATUSES]}, "The status the client knows.")
    scene, tile = _id_param("scene", "scene"), _id_param("tile", "tile")
    not_found = _empty("Unknown id (empty body).")
    return {
        "/": {"get": _operation("Health", {"200": _answer("`ingester ok`.")}, public=True)},
        # Public like the health check: scrapers carry no token; it holds counts by route template, no
        # names (k8s NetworkPolicies limit who reaches it, docs/observability.md).
        "/metrics": {
            "get": _operation(
                "Prometheus metrics of the gateway",
                {"200": _answer("Prometheus text exposition format.", "text/plain")},
                public=True,
            )
        },
        "/aoi/": {"get": _operation("List the AOIs", {"200": json_text})},
        "/aoi/{aoi}": {
            "get": _operation(
                "AOI report, or the AOIs matching a pattern", {"200": json_text}, parameters=[_AOI]
            )
        },
        "/aoi/{aoi}/status": {
            "get": _operation("Long-poll the AOI status", {"200": json_text}, parameters=[_AOI, known, wait])
        },
        "/aoi/{aoi}/scenes": {
            "get": _operation("Scenes of an AOI", {"200": json_text}, parameters=[_AOI, *_PAGING])
        },
        "/aoi/{aoi}/scenes/{status}": {
            "get": _operation(
                "Scenes of an AOI with a status",
                {"200": json_text},
                parameters=[_AOI, _STATUS_FILTER, *_PAGING],
            )
        },
        "/aoi/{aoi}/tiles/{status}": {
            "get": _operation(
                "Tiles of an AOI with a status",
                {"200": json_text},
                parameters=[_AOI, _STATUS_FILTER, *_PAGING],
            )
        },
        "/aoi/{aoi}/roottiles": {
            "get": _operation("Root tiles of an AOI", {"200": json_text}, parameters=[_AOI])
        },
        "/aoi/{aoi}/leaftiles": {
            "get": _operation("Leaf tiles of an AOI", {"200": json_text}, parameters=[_AOI])
        },
        "/aoi/{aoi}/dot": {
            "get": _operation(
                "The AOI as a Graphviz digraph", {"200": _answer("DOT text.")}, parameters=[_AOI]
            )
        },
        "/scene/{scene}": {
            "get": _operation("One scene", {"200": json_text, "404": not_found}, parameters=[scene])
        },
        "/scene/{scene}/tiles": {
            "get": _operation("Tiles of a scene", {"200": json_text}, parameters=[scene])
        },
        "/tile/{tile}": {
            "get": _operation("One tile", {"200": json_text, "404": not_found}, parameters=[tile])
        },
    }


def _status_changes(kind: str) -> dict[str, Any]:
    ident = _id_param(kind, kind)
    answers = {
        "200": _empty("Changed."),
        "403": _empty("The current status refuses the change."),
        "404": _empty("Unknown id."),
        "409": _answer("The workflow forbids the change (the reason)."),
    }
    attrs = _SCENE_ATTRS if kind == "scene" else _TILE_ATTRS
    data_answers = {"204": _empty("Replaced."), "404": _empty("Unknown id.")}
    return {
        f"/{kind}/{{{kind}}}/retry": {"put": _operation(f"Retry a {kind}", answers, parameters=[ident])},
        f"/{kind}/{{{kind}}}/fail": {"put": _operation(f"Fail a {kind}", answers, parameters=[ident])},
        f"/{kind}/{{{kind}}}/force/{{status}}": {
            "put": _operation(f"Force a {kind}'s status", answers, parameters=[ident, _FORCED])
        },
        f"/{kind}/{{{kind}}}/data": {
            "put": _operation(
                f"Replace a {kind}'s data",
                data_answers,
                parameters=[ident],
                body=_json_body(attrs, "Strict: an unknown key is a 400."),
            )
        },
    }


def _control() -> dict[str, Any]:
    retried = {
        "200": _answer('`{"Scenes":n,"Tiles":m}`.'),
        "204": _empty("Nothing to retry."),
        "409": _answer("Some items could not be retried (the reasons)."),
    }
    force = _name_param("force", "`force` forces the retry; any other segment is a plain retry.")
    return {
        "/aoi/{aoi}": {
            "post": _operation(
                "Create an empty AOI",
                {"204": _empty("Created."), "409": _empty("It exists.")},
                parameters=[_AOI],
            ),
            "delete": _operation(
                "Delete an AOI", {"204": _empty("Deleted (or unknown).")}, parameters=[_AOI]
            ),
        },
        "/aoi/{aoi}/scene": {
            "post": _operation(
                "Ingest one scene",
                {
                    "200": _answer('`{"id":<scene id>}`.'),
                    "409": _answer("Existing scene (empty) or a missing dependency."),
                },
                parameters=[_AOI],
                body=_json_body(_SCENE_TO_INGEST, "SceneToIngest (strict)."),
            )
        },
        "/aoi/{aoi}/retry": {"put": _operation("Retry an AOI", retried, parameters=[_AOI])},
        "/aoi/{aoi}/retry/{force}": {
            "put": _operation("Retry an AOI (forced)", retried, parameters=[_AOI, force])
        },
        **_status_changes("scene"),
        **_status_changes("tile"),
    }


def _registry() -> dict[str, Any]:
    def listed(item: dict[str, Any]) -> dict[str, Any]:
        return _answer("The list.", _JSON, {"type": "array", "items": item})

    tag = {
        "name": "tag",
        "in": "query",
        "required": False,
        "description": "`key=value`, repeatable: every tag must match.",
        "schema": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+=.*$"}},
        "style": "form",
        "explode": True,
    }
    return {
        "/registry/variables": {
            "get": _operation(
                "List variables",
                {"200": listed(_VARIABLE)},
                parameters=[_query("name", {"type": "string"}, "Exact name.")],
            ),
            "post": _operation(
                "Create a variable",
                {"201": _answer("The variable.", _JSON, _VARIABLE), "409": _answer("The name is taken.")},
                body=_json_body(_NEW_VARIABLE, "Strict: an unknown key is a 400 naming it."),
            ),
        },
        "/registry/variables/{variable}/instances": {
            "post": _operation(
                "Create an instance of a variable",
                {
                    "201": _answer("The instance.", _JSON, _INSTANCE),
                    "404": _answer("Unknown variable."),
                    "409": _answer("The name is taken."),
                },
                parameters=[_name_param("variable", "The variable's name or id.")],
                body=_json_body(_NEW_INSTANCE, "Strict: an unknown key is a 400 naming it."),
            )
        },
        "/registry/records": {
            "get": _operation(
                "List records",
                {"200": listed({"type": "object"})},
                parameters=[
                    _query("name", {"type": "string"}, "The record's name (scene source id)."),
                    tag,
                    _query("limit", {"type": "integer", "format": "int32"}, "At most this many (0: all)."),
                ],
            )
        },
        "/registry/datasets": {
            "get": _operation(
                "List indexed datasets",
                {"200": listed({"type": "object"})},
                parameters=[
                    _query("record_id", {"type": "string"}, "Only this record's."),
                    _query("instance_id", {"type": "string"}, "Only this instance's."),
                ],
            )
        },
    }


def _dashboard() -> dict[str, Any]:
    """The page (public HTML) and its JSON reads; its static files (`/ui/static/…`) are a file mount,
    not operations."""
    page = _operation("The dashboard page", {"200": _answer("HTML.", "text/html")}, public=True)
    read = {"200": _answer("JSON.", _JSON, {"type": "object"})}
    listed = {"200": _answer("JSON.", _JSON, {"type": "array", "items": {"type": "object"}})}
    return {
        "/ui": {"get": page},
        "/ui/": {"get": page},
        "/ui/api/aois": {"get": _operation("AOIs with their counts", listed)},
        "/ui/api/aoi/{aoi}": {"get": _operation("One AOI's summary", read, parameters=[_AOI])},
        "/ui/api/aoi/{aoi}/scenes": {
            "get": _operation("One AOI's scenes and tiles", read, parameters=[_AOI])
        },
        "/ui/api/aoi/{aoi}/footprints": {
            "get": _operation("One AOI's scene footprints (GeoJSON)", read, parameters=[_AOI])
        },
    }


def _stac() -> dict[str, Any]:
    """The STAC API's own description (gateway/stac_openapi.py, served at /stac/api), mounted at /stac."""
    paths: dict[str, Any] = {}
    for path, operations in copy.deepcopy(stac_openapi.document("")["paths"]).items():
        for operation in operations.values():
            operation["responses"] = {**operation["responses"], **_ERRORS}
        paths["/stac" + ("" if path == "/" else path)] = operations
    paths["/stac/api"] = {
        "get": _operation(
            "The STAC API's OpenAPI document",
            {"200": _answer("OpenAPI 3.", _JSON, {"type": "object"})},
            public=True,
        )
    }
    return paths


@functools.cache
def document() -> dict[str, Any]:
    paths = {**_monitoring(), **_catalog(), **_registry(), **_dashboard(), **_stac()}
    for path, operations in _control().items():
        paths.setdefault(path, {}).update(operations)
    paths[PATH] = {
        "get": _operation(
            "This document", {"200": _answer("OpenAPI 3 document.", _JSON, {"type": "object"})}, public=True
        )
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "geocube-ingester HTTP API",
            "version": "1",
            "description": (
                "The Go Geocube Ingester's HTTP API (same paths, forms and JSON formats) and our registry "
                "API. See docs/api.md for the prose, docs/compatibility.md for the differences."
            ),
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


@functools.cache
def _encoded() -> bytes:
    return json.dumps(document(), indent=1).encode()


async def serve_document(call: Call) -> Response:
    return Response(_encoded(), headers={"Content-Type": responses.JSON})


def routes(gateway: Gateway) -> list[GoRoute]:
    return [GoRoute(PATH, {"GET": serve_document}, gateway, public=True)]
