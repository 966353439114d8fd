"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter

from eadrcc import __version__
from eadrcc.web import PROBLEM_JSON, Route

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_STANDARD_ERRORS = {
    400: "Malformed request",
    401: "Missing, unknown or revoked token",
    403: "Not allowed for this principal",
    404: "Unknown, or not visible to the caller",
    413: "Body too large",
    422: "Validation failed; `errors` names each field",
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "required": ["type", "title", "status", "detail"],
            }
        }

    def ref(self, tp: Any, mode: str) -> dict[str, Any]:
        schema = TypeAdapter(tp).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self.components.update(schema.pop("$defs", {}))
        return schema


def build(routes: list[Route]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.in_spec:
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eadrcc",
            "version": __version__,
            "description": (
                "Disaster-response coordination hub: requests for assistance, offers, "
                "matching, circulation and live consoles (guide: docs/api.md in the repository)"
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route, schemas),
        "responses": _responses(route, schemas),
    }
    if route.auth:
        op["security"] = [{"bearer": []}]
    if route.body is not None:
        body = schemas.ref(route.body, "validation")
        op["requestBody"] = {
            "required": True,
            "content": {t: {"schema": body} for t in route.media_types},
        }
    return op


def _parameters(route: Route, schemas: _Schemas) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    if route.query is not None:
        schema = schemas.ref(route.query, "validation")
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _responses(route: Route, schemas: _Schemas) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if 300 <= route.status < 400:
        ok = {
            "description": "Redirect",
            "headers": {"Location": {"description": "where to go", "schema": {"type": "string"}}},
        }
    if route.response is not None:
        ok["content"] = {
            "application/json": {"schema": schemas.ref(route.response, "serialization")}
        }
    responses: dict[str, Any] = {str(route.status): ok}
    problem = {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}}
    errors = dict(_STANDARD_ERRORS)
    if not route.auth:
        errors.pop(401), errors.pop(403)
    errors.update(route.extra_responses)
    for status, text in errors.items():
        entry: dict[str, Any] = {"description": text}
        if status >= 400:
            entry["content"] = problem
        responses[str(status)] = entry
    return responses
