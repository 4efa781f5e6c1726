"""Structured JSON logs with request ids; personal data is masked before it reaches a log line."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from routing.numbers import mask

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_SENSITIVE_KEYS = {"digits", "speech", "transcript", "text", "password", "auth_token", "secret", "token"}
_PHONE_KEYS = {"number", "from", "to", "caller", "called", "e164", "from_number", "to_number", "destination"}


_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if _IPV4.match(text) else mask(text)


def mask_text(message: str) -> str:
    """Mask anything that looks like a phone number inside free text (IPv4 addresses are left alone)."""
    return _PHONE.sub(_mask_match, message)


def mask_field(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in _SENSITIVE_KEYS and value:
        return "***"
    if lowered in _PHONE_KEYS and isinstance(value, str):
        return mask(value)
    if isinstance(value, str):
        return mask_text(value)
    return value


class JsonFormatter(logging.Formatter):
    _reserved = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
        "message",
        "asctime",
        "color_message",
    }

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in self._reserved and not key.startswith("_"):
                entry[key] = mask_field(key, value)
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


DRIVER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "uvicorn.access", "httpx", "httpcore")
"""Loggers that print SQL parameters or URLs (numbers, secrets): kept at WARNING even when debugging."""


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for driver in DRIVER_LOGGERS:
        logging.getLogger(driver).setLevel(logging.WARNING)
