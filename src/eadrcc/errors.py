"""Domain errors. One middleware (web.py) turns them into RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any, ClassVar


class EadrccError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal"

    def __init__(
        self,
        detail: str,
        *,
        errors: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://eadrcc.example/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(EadrccError):
    status, title, slug = 400, "Bad request", "bad-request"


class Invalid(EadrccError):
    status, title, slug = 422, "Validation failed", "validation"


class TooSlowToRead(EadrccError):
    """A document whose reading (parse, schema validation) ran past the time budget."""

    status, title, slug = 422, "Document took too long to read", "too-slow-to-read"


class StopsTheReader(EadrccError):
    """A document that stopped a reader process each of the last times it was read."""

    status, title, slug = 422, "Document stops the reader", "stops-the-reader"


class Unauthorized(EadrccError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="eadrcc"'})
        super().__init__(detail, **kwargs)


class Forbidden(EadrccError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(EadrccError):
    status, title, slug = 404, "Not found", "not-found"


class MethodNotAllowed(EadrccError):
    status, title, slug = 405, "Method not allowed", "method-not-allowed"


class NotAcceptable(EadrccError):
    status, title, slug = 406, "Not acceptable", "not-acceptable"


class RequestTimeout(EadrccError):
    status, title, slug = 408, "Request timeout", "request-timeout"


class Conflict(EadrccError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(EadrccError):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PayloadTooLarge(EadrccError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(EadrccError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class PreconditionRequired(EadrccError):
    status, title, slug = 428, "Precondition required", "precondition-required"


class RateLimited(EadrccError):
    status, title, slug = 429, "Too many requests", "rate-limited"


class Unavailable(EadrccError):
    status, title, slug = 503, "Service unavailable", "unavailable"
