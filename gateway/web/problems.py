"""The one place errors become HTTP problem responses (RFC 9457, application/problem+json)."""

from __future__ import annotations

import logging
import math
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from sqlalchemy.exc import IntegrityError

from gateway.db.conflicts import describe_conflict
from gateway.errors import AppError
from gateway.logs import request_id_var
from gateway.web.allowed import allowed_values

log = logging.getLogger("trunkline.http")
PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    retry_after = exc.extra.get("retry_after")
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return problem(exc.status_code, exc.title, exc.detail, headers=headers, field=exc.field, **exc.extra)


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


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    titles = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return too_large(request)
    title = titles.get(exc.status_code, "Error")
    return problem(exc.status_code, title, str(exc.detail))


def too_large(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    limit = request.route_handler.resolve_request_max_body_size()
    return problem(
        HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        "Request body too large",
        f"This endpoint reads request bodies of at most {limit} bytes; nothing was read or changed. Send a "
        "smaller body (split a large change into several requests).",
        # The server would otherwise read (and discard) the rest of the body to keep the connection.
        headers={"Connection": "close"},
        limit=limit,
    )


def too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """A body nested too deeply for the decoders (msgspec and the json module raise RecursionError): bad input,
    so one warning line without a traceback, and a 400."""
    log.warning(
        "request body nested too deeply", extra={"path": request.scope["path"], "error": str(exc)[:100]}
    )
    return problem(
        400,
        "Invalid request",
        "The request body is nested too deeply to be read (JSON objects and arrays inside each other hundreds "
        "of levels deep). Send the documented shape; see /schema.",
    )


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
    RecursionError: too_deep,
    Exception: unexpected_error,
}


def status_of(exc: BaseException) -> int:
    """The status `EXCEPTION_HANDLERS` answers `exc` with: for middleware that sees the exception on its way out."""
    if isinstance(exc, AppError):
        return exc.status_code
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, IntegrityError):
        return 409
    if isinstance(exc, RecursionError):
        return 400
    return 500


__all__ = ["EXCEPTION_HANDLERS", "MediaType", "problem", "status_of"]
