"""Flow secrets in an `http` step: ``{{ secret.NAME }}`` in its url, headers or body.

The engine renders a marker in the secret's place (`templates.secret_marker`), so states, traces and call events
only ever hold the name. The adapter calls `reveal` right before it sends the request, with the values it read
for `secret_names(request)`, and keeps the revealed request to itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from gateway.ivr.actions import HttpRequest
from gateway.ivr.templates import MARK_CLOSE, MARK_OPEN

__all__ = ["SECRET_NAME", "MissingSecrets", "reveal", "secret_names", "shown"]

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MARKER = re.compile(f"{MARK_OPEN}([A-Za-z_][A-Za-z0-9_]*){MARK_CLOSE}")


class MissingSecrets(LookupError):
    """The request names secrets the project does not have (deleted since the flow was saved)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"unknown flow secrets: {', '.join(names)}")
        self.names = names


def _texts(request: HttpRequest) -> list[str]:
    return [request.url, *request.headers.values(), *(request.body or {}).values()]


def secret_names(request: HttpRequest) -> set[str]:
    """The secrets a rendered request needs."""
    return {name for text in _texts(request) for name in _MARKER.findall(text)}


def shown(text: str) -> str:
    """Rendered text as a person may see it: each secret as ``{{secret.NAME}}``."""
    return _MARKER.sub(lambda found: f"{{{{secret.{found.group(1)}}}}}", text)


def reveal(request: HttpRequest, values: Mapping[str, str]) -> HttpRequest:
    """The request to send: every secret's value in place (percent-encoded in the URL, without line breaks in
    headers). Raises `MissingSecrets` when `values` lacks one."""
    missing = sorted(secret_names(request) - set(values))
    if missing:
        raise MissingSecrets(missing)

    def fill(text: str, escape: str) -> str:
        def value(found: re.Match[str]) -> str:
            secret = values[found.group(1)]
            if escape == "url":
                return quote(secret, safe="")
            if escape == "header":
                return secret.replace("\r", " ").replace("\n", " ")
            return secret

        return _MARKER.sub(value, text) if MARK_OPEN in text else text

    return HttpRequest(
        method=request.method,
        url=fill(request.url, "url"),
        headers={name: fill(value, "header") for name, value in request.headers.items()},
        body=None if request.body is None else {k: fill(v, "text") for k, v in request.body.items()},
        timeout=request.timeout,
    )
