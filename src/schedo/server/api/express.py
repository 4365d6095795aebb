"""The express lane: the API's hottest routes answered beside FastAPI's router and dependency
solver, with the same answers (issue 18).

FastAPI spends ~0.15-0.2 ms of CPU on every request around a route's own work (matching
through the included routers, the generic walk of dependencies, a ``Response`` made per
request, the exception middleware and exit stacks): a quarter to a third of what a single
completion, a pull or a run list costs. For the routes of ``ENDPOINTS`` this layer, the
innermost of the app's middlewares, does that part directly, from what FastAPI itself
analysed at start-up (each route's ``dependant``), and calls the same endpoint function:

1. the method and the path pick the route (the route's own pattern, at ``/`` or ``/api``);
2. every path, query and header parameter is validated by FastAPI's own field for it (the
   same pydantic validator, the same default when absent); a body is read and parsed as
   FastAPI parses it (``json.loads`` of an ``application/json`` body) and validated by the
   route's body field;
3. anything FastAPI might refuse or read differently (a missing or invalid value, a repeated
   parameter, malformed JSON, no body, another content-type) is not answered here: the request
   goes on to FastAPI, its body replayed, and FastAPI gives its usual answer. Nothing has
   happened at that point (validation and parsing are pure), so every request is handled once;
4. the route's dependencies (the services, then the principal with the route's permission,
   ``deps.needs``) run in FastAPI's order, then the endpoint;
5. an exception one of the app's exception handlers answers (``SchedoError``, the limits'
   429) is answered by that handler, found as Starlette's exception middleware finds it (an
   ``HTTPException``'s status first, then the exception's classes); any other
   propagates as it does from FastAPI (ServerErrorMiddleware: a logged 500).

FastAPI validates parameters after the dependencies; here they are validated before. The
answers agree: when a parameter is invalid nothing is run here, and FastAPI then runs the
dependencies (authentication, with its side effects on the abuse limits) exactly once.

The lane sets ``scope["route"]``, ``scope["endpoint"]``, ``scope["path_params"]`` and
``scope["router"]`` as the router would, so metrics name the route alike. A route the lane
cannot serve exactly (a dependency that takes more than the request or is used twice, a
cookie, a parameter that is not a plain int, float, str or bool, a default made by a factory,
an answer that is not a ``Response``, dependencies on the app's router) is refused when the
app is built (``LaneError``), not served differently. FastAPI answers everything, the lane
being off, where what the lane skips matters: with OpenTelemetry configured (app.py: FastAPI
makes its spans in the router and the dependency solver), under a root path (a proxy prefix),
and while ``app.dependency_overrides`` holds anything. ``SCHEDO_EXPRESS_LANE=0`` turns it off;
tests/api/test_express.py sends a corpus of good and bad requests both ways and compares the
answers, the stored rows and the metrics.
"""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import executions, jobs, pull
from .middleware import buffered

# The routes served here: the worker loop (pull, completion) and the management reads and
# writes clients make most (bench/api.py measures each).
ENDPOINTS: tuple[Callable[..., Any], ...] = (
    jobs.get_job,
    jobs.list_jobs,
    jobs.define,
    executions.history,
    executions.complete,
    executions.complete_batch,
    pull.long_poll,
)
ROUTERS = (pull.router, executions.router, jobs.router)
API_PREFIX = "/api"  # app.py includes every API router at / and at /api
_SCALARS = (int, float, str, bool, type(None))


class LaneError(RuntimeError):
    """A route the lane cannot serve with FastAPI's exact answers."""


_Dep = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    key: str  # the request's name for it (query key, header name, path parameter)
    field: Any  # FastAPI's ModelField
    loc: tuple[str, str]
    required: bool
    default: Any


@dataclass(frozen=True, slots=True)
class _Lane:
    route: APIRoute
    endpoint: Callable[..., Awaitable[Any]]
    path: tuple[_Param, ...]
    query: tuple[_Param, ...]
    header: tuple[_Param, ...]
    body: Any  # the body's ModelField, or None
    deps: tuple[tuple[str, _Dep, str], ...]  # (value name, call, its request parameter)
    request_name: str | None


def _scalar(annotation: Any) -> bool:
    """An int, float, str or bool, or an optional one: not a sequence (FastAPI reads every
    repeated value), nor a model of parameters, nor anything else FastAPI might read
    otherwise."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) \
        else (annotation,)
    return all(m in _SCALARS for m in members)


def _params(fields: Iterable[Any], where: str) -> tuple[_Param, ...]:
    out = []
    for f in fields:
        info = f.field_info
        if info.validation_alias not in (None, f.alias) or not _scalar(info.annotation):
            raise LaneError(f"{where} parameter {f.name!r}: not a plain scalar")
        required = info.is_required()
        if not required and (info.validate_default or info.default_factory is not None):
            raise LaneError(f"{where} parameter {f.name!r}: a validated or made default")
        out.append(_Param(f.name, f.alias, f, (where, f.alias), required,
                          None if required else info.default))
    return tuple(out)


def _dependency(sub: Any) -> tuple[str, _Dep, str]:
    """A dependency that takes the request and nothing else, awaited (``deps.py``'s)."""
    takes_only_request = not (
        sub.path_params or sub.query_params or sub.header_params or sub.cookie_params
        or sub.body_params or sub.dependencies or _takes_more(sub)
        or getattr(sub, "concurrency", None) is not None
    ) and sub.request_param_name is not None
    if not (takes_only_request and inspect.iscoroutinefunction(sub.call) and sub.name):
        raise LaneError(f"dependency {sub.call!r}: not an async function of the request")
    return sub.name, sub.call, sub.request_param_name


def _takes_more(d: Any) -> bool:
    """Whether a dependant takes what the lane does not give (a cookie, the response, the
    background tasks, security scopes, the connection, a websocket)."""
    return bool(d.cookie_params or d.background_tasks_param_name or d.response_param_name
                or d.security_scopes_param_name or d.http_connection_param_name
                or d.websocket_param_name)


def lane(route: APIRoute) -> _Lane:
    """What the lane needs of ``route``, or LaneError when it cannot serve it exactly."""
    d = route.dependant
    if _takes_more(d):
        raise LaneError(f"{route.path}: takes what the lane does not give")
    calls = [sub.call for sub in d.dependencies]
    if len(set(calls)) != len(calls):
        raise LaneError(f"{route.path}: a dependency used twice (FastAPI caches it)")
    answer = typing.get_type_hints(route.endpoint).get("return")
    if not (isinstance(answer, type) and issubclass(answer, Response)):
        raise LaneError(f"{route.path}: answers {answer!r}, not a Response (FastAPI would "
                        "validate and serialise it)")
    if len(d.body_params) > 1 or any(getattr(f.field_info, "embed", False) for f in d.body_params):
        raise LaneError(f"{route.path}: an embedded or split body")
    if not inspect.iscoroutinefunction(route.endpoint):
        raise LaneError(f"{route.path}: not an async endpoint")
    return _Lane(
        route=route, endpoint=route.endpoint,
        path=_params(d.path_params, "path"), query=_params(d.query_params, "query"),
        header=_params(d.header_params, "header"),
        body=d.body_params[0] if d.body_params else None,
        deps=tuple(_dependency(sub) for sub in d.dependencies),
        request_name=d.request_param_name,
    )


def _route_of(endpoint: Callable[..., Any]) -> APIRoute:
    for router in ROUTERS:
        for r in router.routes:
            if isinstance(r, APIRoute) and r.endpoint is endpoint:
                return r
    raise LaneError(f"{endpoint!r}: no route of the API routers")


class _Table:
    """The lanes by method: fixed paths by their path, the rest by their pattern."""

    def __init__(self, lanes: Iterable[_Lane]) -> None:
        self.fixed: dict[tuple[str, str], _Lane] = {}
        self.patterns: dict[str, list[_Lane]] = {}
        for ln in lanes:
            methods = ln.route.methods or set()
            for method in methods:
                if ln.route.param_convertors:
                    self.patterns.setdefault(method, []).append(ln)
                else:
                    self.fixed[(method, ln.route.path)] = ln

    def all(self) -> list[_Lane]:
        lanes = [*self.fixed.values(), *(ln for lns in self.patterns.values() for ln in lns)]
        return list({id(ln): ln for ln in lanes}.values())

    def find(self, method: str, path: str) -> tuple[_Lane, dict[str, Any]] | None:
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX):]
        ln = self.fixed.get((method, path))
        if ln is not None:
            return ln, {}
        for ln in self.patterns.get(method, ()):
            m = ln.route.path_regex.match(path)
            if m is not None:
                conv = ln.route.param_convertors
                return ln, {k: conv[k].convert(v) for k, v in m.groupdict().items()}
        return None


_FALLBACK = object()


def _validated(params: tuple[_Param, ...], source: Any, values: dict[str, Any]) -> bool:
    """Each parameter's value into ``values``, as FastAPI's field gives it; False when one is
    absent and required, or invalid (FastAPI answers those)."""
    for p in params:
        raw = source.get(p.key)
        if raw is None:
            if p.required:
                return False
            values[p.name] = copy.deepcopy(p.default)
            continue
        value, errors = p.field.validate(raw, values, loc=p.loc)
        if errors:
            return False
        values[p.name] = value
    return True


def _once(source: Iterable[tuple[Any, Any]], params: tuple[_Param, ...]) -> bool:
    """No parameter of ``params`` given twice (FastAPI would take the last query value and the
    first header: the lane leaves such requests to it)."""
    keys = {p.key for p in params}
    seen: set[Any] = set()
    for k, _ in source:
        if k in keys:
            if k in seen:
                return False
            seen.add(k)
    return True


def table(api: FastAPI, endpoints: Iterable[Callable[..., Any]] = ENDPOINTS) -> _Table:
    """The lanes of ``endpoints``; LaneError for one the lane cannot serve exactly."""
    if api.router.dependencies:
        raise LaneError("the app's router has dependencies of its own")
    return _Table(lane(_route_of(e)) for e in endpoints)


class ExpressLane:
    def __init__(self, app: ASGIApp, api: FastAPI, lanes: _Table) -> None:
        self.app = app
        self.api = api
        self.table = lanes
        self.served: dict[str, int] = {}  # requests answered here, by route (tests read it)
        api.state.express_lane = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        # (under a root path, or with dependency overrides (tests): FastAPI's, as they are)
        if scope["type"] == "http" and not scope.get("root_path") \
                and not self.api.dependency_overrides:
            found = self.table.find(scope["method"], scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        ln, path_params = found
        values: dict[str, Any] = {}
        body_receive = receive
        if ln.body is not None:
            body, whole, body_receive = await buffered(receive)
            parsed = _json(scope, body) if whole else _FALLBACK
            if parsed is _FALLBACK:
                await self.app(scope, body_receive, send)
                return
            value, errors = ln.body.validate(parsed, values, loc=("body",))
            if errors:
                await self.app(scope, body_receive, send)
                return
            values[ln.body.name] = value
        request = Request(scope, body_receive, send)
        if not self._parameters(ln, request, path_params, values):
            await self.app(scope, body_receive, send)
            return
        scope["route"] = ln.route
        scope["endpoint"] = ln.endpoint
        scope["path_params"] = path_params
        scope.setdefault("router", self.api.router)  # as the router sets it (url_for)
        self.served[ln.route.path] = self.served.get(ln.route.path, 0) + 1
        try:
            for name, call, request_name in ln.deps:
                values[name] = await call(**{request_name: request})
            if ln.request_name is not None:
                values[ln.request_name] = request
            response = await ln.endpoint(**values)
            if not isinstance(response, Response):  # the route's annotation said it would be
                raise TypeError(f"{ln.route.path}: answered {type(response).__name__}, "
                                "not a Response")
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):  # Starlette allows plain functions too
                response = await response
        await response(scope, body_receive, send)

    @staticmethod
    def _parameters(ln: _Lane, request: Request, path_params: dict[str, Any],
                    values: dict[str, Any]) -> bool:
        if ln.path and not _validated(ln.path, path_params, values):
            return False
        if ln.query:
            query = request.query_params
            if not _once(query.multi_items(), ln.query) or \
                    not _validated(ln.query, query, values):
                return False
        if ln.header:
            headers = request.headers
            if not _once(headers.items(), ln.header) or \
                    not _validated(ln.header, headers, values):
                return False
        return True

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        """The app's handler for ``exc`` as Starlette's exception middleware finds it (the
        handler of Exception itself belongs to ServerErrorMiddleware, outside)."""
        handlers = self.api.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]  # Starlette looks at the status first
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None


def _json(scope: Scope, body: bytes) -> Any:
    """The body as FastAPI reads it for a model, or ``_FALLBACK`` when FastAPI might read it
    otherwise or refuse it (no body, another content-type, malformed JSON)."""
    if not body:
        return _FALLBACK
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return _FALLBACK
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError, and bytes that are no text
        return _FALLBACK


def install(app: FastAPI) -> None:
    """The lane as the app's innermost middleware (after metrics.install: inside its route
    capture, which reads the route the lane sets). Its routes are checked here: LaneError
    while the app is built, not at its first request."""
    app.user_middleware.append(Middleware(ExpressLane, api=app, lanes=table(app)))

