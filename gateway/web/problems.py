"""The one place errors become HTTP problem responses (RFC 9457, application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import IntegrityError

from gateway.db.conflicts import describe_conflict
from gateway.errors import AppError
from gateway.logs import request_id_var
from gateway.web.allowed import allowed_values

log = logging.getLogger("trunkline.http")
PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    return problem(exc.status_code, exc.title, exc.detail, field=exc.field, **exc.extra)


def _field_of(message: str) -> str | None:
    for marker in ("at `$.", "unknown field `", "missing required field `"):
        if marker in message:
            return message.split(marker, 1)[1].split("`", 1)[0]
    return None


def _with_allowed(request: Request[Any, Any, Any], field: str | None, source: Any, message: str) -> str:
    """Add the allowed values to "Invalid enum value 'in'", read from the handler's declared types."""
    if not field or not message.startswith(("Invalid enum value", "Invalid value")):
        return message
    parameters = request.route_handler.parsed_fn_signature.parameters
    if source == "body" and "data" in parameters:
        allowed = allowed_values(parameters["data"].annotation, field)
    elif field in parameters:
        allowed = allowed_values(parameters[field].annotation, "")
    else:
        allowed = None
    return f"{message} (allowed: {', '.join(repr(value) for value in allowed)})" if allowed else message


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            key = item.get("key")
            field = key if key and key != "data" else _field_of(message)
            message = _with_allowed(request, field, item.get("source"), message)
            errors.append({"field": field, "message": message, "source": item.get("source")})
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    else:
        detail = str(exc.detail)
    hint = "Fix the named field and send the request again; see /schema for the expected shape."
    field = errors[0]["field"] if errors else _field_of(detail)
    return problem(400, "Invalid request", f"{detail}. {hint}", field=field, errors=errors or None)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    titles = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}
    title = titles.get(exc.status_code, "Error")
    return problem(exc.status_code, title, str(exc.detail))


def integrity_error(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    log.warning("integrity error", extra={"error": str(exc.orig)[:200]})
    detail, field = describe_conflict(exc)
    return problem(409, "Conflict", detail, field=field)


def unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return problem(
        500,
        "Internal error",
        "Something failed on our side; nothing was changed. Retry later and "
        "quote the request id when reporting it.",
    )


EXCEPTION_HANDLERS: Any = {
    AppError: app_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    IntegrityError: integrity_error,
    Exception: unexpected_error,
}

__all__ = ["EXCEPTION_HANDLERS", "MediaType", "problem"]
