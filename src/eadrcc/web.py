"""HTTP plumbing: route tables with their OpenAPI facts, middlewares, body parsing."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import structlog
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from eadrcc import auth, jsontext
from eadrcc.appkeys import METRICS, POOL, PRINCIPAL, REQUEST_ID, SETTINGS, TOKENS
from eadrcc.errors import (
    BadRequest,
    EadrccError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unavailable,
    UnsupportedMediaType,
)
from eadrcc.readtimeouts import BodyTimeout

log = structlog.get_logger("eadrcc.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Route:
    """One endpoint and what the OpenAPI document says of it."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: Any = None
    response: Any = None
    status: int = 200
    auth: bool = True
    tag: str = "ops"
    query: type[BaseModel] | None = None
    extra_responses: dict[int, str] = field(default_factory=dict)
    media_types: tuple[str, ...] = ("application/json",)
    in_spec: bool = True


class Routes:
    """A domain's endpoints: `@routes.get(path, summary=..., response=Model)`."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.items: list[Route] = []

    def add(self, method: str, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            route = Route(method, path, handler, tag=meta.pop("tag", self.tag), **meta)
            handler.__eadrcc_route__ = route  # type: ignore[attr-defined]
            self.items.append(route)
            return handler

        return register

    def get(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **meta)

    def post(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **meta)

    def put(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, **meta)

    def patch(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, **meta)

    def delete(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, **meta)


def route_of(request: web.Request) -> Route | None:
    handler = getattr(request.match_info, "handler", None)
    return getattr(handler, "__eadrcc_route__", None)


# ---- reading requests ------------------------------------------------------------


async def read_json(request: web.Request) -> Any:
    """The JSON body, or 400/413/415 problems."""
    ctype = request.content_type
    if ctype not in ("application/json", "application/merge-patch+json") and not ctype.endswith(
        "+json"
    ):
        raise UnsupportedMediaType(f"expected application/json, got {ctype or 'nothing'}")
    return loads(await read_body(request))


def loads(raw: bytes | str) -> Any:
    """Parse JSON (UTF-8 only, as RFC 8259 requires between systems), refusing what
    nothing downstream can hold: NaN and infinities, numbers beyond Python's
    4,300-digit limit, nesting deep enough to exhaust the stack, and text
    PostgreSQL cannot store (NUL, lone surrogates)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError:
        raise BadRequest("JSON must be UTF-8") from None
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int() past the digit limit
        raise BadRequest(f"malformed JSON: {str(exc)[:200]}") from None
    _check_text(data)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


def check_text(value: Any) -> None:
    """BadRequest for text PostgreSQL cannot store (NUL, lone surrogates)."""
    _check_text(value)


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest("text may not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("text contains an unpaired UTF-16 surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except BodyTimeout:
        timeout = request.app[SETTINGS].body_timeout_seconds
        raise RequestTimeout(f"the request body did not arrive within {timeout:g} s") from None
    except (ConnectionResetError, asyncio.IncompleteReadError):
        raise BadRequest("the client closed the connection before its body arrived") from None
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        raise PayloadTooLarge(f"request body is larger than {limit} bytes") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The body as `model`. An empty body is read as `{}`: the model's defaults, or a
    422 naming each required field (more use than a 415 about a missing type)."""
    if not (await read_body(request)).strip():
        return validate(model, {})
    return validate(model, await read_json(request))


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid_from(exc, where="query") from None


def invalid_from(exc: ValidationError, where: str = "body") -> Invalid:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or where
        errors.setdefault(loc, err["msg"])
    return Invalid(f"the request {where} has {len(errors)} invalid field(s)", errors=errors)


# ---- answering -------------------------------------------------------------------


def dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value


def respond(
    value: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = jsontext.dumps(dump(value))
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


def problem_response(err: EadrccError) -> web.Response:
    return web.Response(
        text=json.dumps(err.problem(), ensure_ascii=False),
        status=err.status,
        content_type=PROBLEM_JSON,
        headers=err.headers,
    )


def adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


# ---- middlewares -----------------------------------------------------------------

# A restarting or unreachable database: the client may retry; it is not our bug.
DATABASE_DOWN = (
    # Connecting to a database that is not up (refused, or its socket file gone).
    # A client hanging up mid-body is not this: read_body answers that as a 400.
    OSError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    # asyncpg's own state error when a connection dies under a running statement
    asyncpg.InternalClientError,
    # The server's max_connections reached (instances x workers x pool size): 503.
    asyncpg.TooManyConnectionsError,
)
# Every answer: no sniffing, no framing, no referrer leaks, and API data never cached
# by intermediaries (views that may be cached, like static files, set their own).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line, time the request, answer problems."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    try:
        response = _url_problem(request) or await _answer(request, handler)
    except web.HTTPException as exc:  # a plain aiohttp exception (e.g. its own 404)
        response = problem_response(_translate(exc))
    elapsed = time.perf_counter() - started
    response.headers["X-Request-ID"] = request_id
    if not response.prepared:  # a websocket has sent its headers already
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    route = route_of(request)
    template = route.path if route else _resource_path(request)
    request.app[METRICS].observe(request.method, template, response.status, elapsed)
    log.info(
        "request",
        method=request.method,
        path=request.path,
        route=template,
        status=response.status,
        ms=round(elapsed * 1000, 1),
        who=request[PRINCIPAL].actor if PRINCIPAL in request else None,
    )
    return response


def _url_problem(request: web.Request) -> web.Response | None:
    """A NUL or lone surrogate in the path or the query reaches no handler (nor SQL)."""
    try:
        check_text([request.path, *request.query.keys(), *request.query.values()])
    except BadRequest as exc:
        return problem_response(BadRequest(f"the URL: {exc.detail}"))
    return None


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        route = route_of(request)
        if route is not None and route.auth:
            await _authenticate(request)
        return await handler(request)
    except EadrccError as err:
        return problem_response(err)
    except web.HTTPException:
        raise
    except DATABASE_DOWN as exc:
        log.warning("database_unavailable", error=type(exc).__name__)
        return problem_response(
            Unavailable("the database is unreachable; retry shortly", headers={"Retry-After": "2"})
        )
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.path)
        return problem_response(EadrccError("an unexpected error occurred; it has been logged"))


async def _authenticate(request: web.Request) -> None:
    token = auth.bearer_token(request.headers.get("Authorization"))
    request[PRINCIPAL] = await request.app[TOKENS].principal(request.app[POOL], token)


def _translate(exc: web.HTTPException) -> EadrccError:
    if exc.status == 404:
        return NotFound(f"no such resource: {exc.reason}")
    if exc.status == 405:
        err: EadrccError = MethodNotAllowed("this method is not allowed here")
        if "Allow" in exc.headers:
            err.headers["Allow"] = exc.headers["Allow"]
        return err
    if exc.status == 413:
        return PayloadTooLarge("request body too large")
    generic = EadrccError(exc.reason or "error")
    generic.status = exc.status  # type: ignore[misc]
    return generic


def _resource_path(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def principal(request: web.Request) -> auth.Principal:
    return request[PRINCIPAL]
