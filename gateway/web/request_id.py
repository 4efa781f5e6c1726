"""Every request gets an id (taken from X-Request-Id when sane), echoed back and put on every log line."""

from __future__ import annotations

import os
import re

from litestar.types import Scope

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HEADER = b"x-request-id"


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-Id when it is a sane token, else a new random id."""
    for name, value in scope["headers"]:
        if name == HEADER:
            given = value.decode("latin-1")
            if _SAFE.match(given):
                return given
            break
    return os.urandom(16).hex()
