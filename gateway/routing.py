"""Routing with the reference's semantics (gorilla/mux, spec §4.1): exact path templates whose `{x}`
matches one non-empty segment, 405 with an empty body for a known path with another method, and the
authentication check only on requests that matched a route."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path
from starlette.types import Receive, Scope, Send

from gateway import auth, inputs, responses, rpc
from gateway.errors import GatewayError
from gateway.middleware import request_id
from gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Set in the request scope when a route matches: its template, the route label of the metrics.
ROUTE_KEY = "gateway.route"


@dataclasses.dataclass
class Gateway:
    """What every handler shares: settings and the catalogue client."""

    settings: GatewaySettings
    client: rpc.CatalogueClient


@dataclasses.dataclass
class Call:
    """One request being handled."""

    request: Request
    gateway: Gateway
    request_id: str

    @property
    def params(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def settings(self) -> GatewaySettings:
        return self.gateway.settings

    async def rpc(
        self,
        method: Callable[..., Awaitable[T]],
        message: Any,
        *,
        slow: bool = False,
        empty: Collection[grpc.StatusCode] = (),
    ) -> T:
        """Calls the catalogue; `slow` calls (search, tiling, ingestion) get the longer deadline; a gRPC
        status in `empty` answers with an empty body (see `rpc.call`)."""
        settings = self.gateway.settings
        timeout = settings.catalogue_timeout_seconds if slow else settings.rpc_timeout_seconds
        return await rpc.call(method, message, timeout=timeout, request_id=self.request_id, empty=empty)


Handler = Callable[[Call], Awaitable[Response]]


def _route_path(scope: Scope) -> str:
    """The path below the application's mount point (root_path), which the templates are written for."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class GoRoute(BaseRoute):
    """One path template with a handler per method."""

    def __init__(
        self, path: str, handlers: dict[str, Handler], gateway: Gateway, *, public: bool = False
    ) -> None:
        self.path = path
        self.handlers = handlers
        self.gateway = gateway
        self.public = public
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        found = self.path_regex.match(_route_path(scope))
        if found is None:
            return Match.NONE, {}
        params = {key: self.param_convertors[key].convert(value) for key, value in found.groupdict().items()}
        child = {"path_params": {**scope.get("path_params", {}), **params}, ROUTE_KEY: self.path}
        return (Match.FULL if scope["method"] in self.handlers else Match.PARTIAL), child

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers.get(scope["method"])
        if handler is None:
            response = responses.empty(405)
        else:
            call = Call(Request(scope, receive), self.gateway, request_id(scope))
            response = await self._run(call, handler)
        await response(scope, receive, send)

    async def _run(self, call: Call, handler: Handler) -> Response:
        try:
            if not self.public:
                auth.check(call.request.headers.get("authorization"), self.gateway.settings.bearer_tokens)
            inputs.check_request(call.params, call.request.query_params.multi_items())
            return await handler(call)
        except GatewayError as exc:
            return responses.text(exc.text, exc.status)
        except Exception:
            # A bug: log it with its traceback, answer without internals.
            logger.exception(
                "unexpected error on %s %s",
                call.request.method,
                call.request.url.path,
                extra={"request_id": call.request_id},
            )
            return responses.text(f"internal error (request id {call.request_id})", 500)


def merge(routes: list[GoRoute]) -> list[GoRoute]:
    """One route per path template, with the handlers of every route given for it (modules declare the
    methods they own, e.g. GET and POST /aoi/{aoi}), so a method none has is a 405 for the path."""
    merged: dict[str, GoRoute] = {}
    for route in routes:
        known = merged.get(route.path)
        if known is None:
            merged[route.path] = GoRoute(route.path, dict(route.handlers), route.gateway, public=route.public)
            continue
        if known.public != route.public or known.handlers.keys() & route.handlers.keys():
            raise ValueError(f"conflicting routes for {route.path}")
        known.handlers.update(route.handlers)
    return list(merged.values())


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await responses.not_found()(scope, receive, send)
