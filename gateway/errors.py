"""One error base for the whole gateway; `gateway.app` maps it to HTTP problem responses in one place."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error a user can act on: `detail` says what was wrong and what to do."""

    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}


class InvalidInput(AppError):
    status_code = 422
    title = "Invalid input"


class NotFound(AppError):
    status_code = 404
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    title = "Conflict"


class Unauthorized(AppError):
    status_code = 401
    title = "Unauthorized"


class Forbidden(AppError):
    status_code = 403
    title = "Forbidden"


class RateLimited(AppError):
    status_code = 429
    title = "Too many requests"


class UpstreamUnavailable(AppError):
    status_code = 503
    title = "Upstream unavailable"
