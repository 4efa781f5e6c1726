"""Safe templating: ``{{ name }}`` is replaced by the variable's value, and that is all it can do.

No expressions, filters or attribute access, so a flow file can never run code. A variable that is not set
renders as the empty string; the loader refuses templates that name variables the flow never defines.

``{{ secret.NAME }}`` names one of the project's flow secrets. The engine never sees its value: it renders a
marker (`secret_marker`) that the adapter replaces at the moment it sends the HTTP request (`gateway.ivr.secrets`).
Values of variables cannot contain a marker, so caller input can never make a secret appear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from urllib.parse import quote

__all__ = [
    "SECRET_PREFIX",
    "TemplateError",
    "render",
    "render_header",
    "render_url",
    "secret_marker",
    "variables_in",
]

SECRET_PREFIX = "secret."  # noqa: S105 (a template prefix, not a password)
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
"""Private-use characters around a secret's name in rendered text; never kept in a variable's value."""
_PLACEHOLDER = re.compile(r"\{\{\s*((?:secret\.)?[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_MARKS = str.maketrans("", "", MARK_OPEN + MARK_CLOSE)
_STRAY = re.compile(r"\{\{|\}\}|\{%|%\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    """A template that is not plain text with ``{{ name }}`` placeholders."""


@lru_cache(maxsize=8192)
def _parts(template: str) -> tuple[str, ...]:
    """Literal text at even indexes, variable names at odd ones."""
    parts = tuple(_PLACEHOLDER.split(template))
    for literal in parts[::2]:
        stray = _STRAY.search(literal)
        if stray:
            raise TemplateError(
                f"'{stray.group(0)}' is not a placeholder: only {{{{ name }}}} is allowed "
                "(a variable name of letters, digits and _; no expressions or filters)"
            )
    return parts


def variables_in(template: str) -> list[str]:
    """The names a template refers to, in order (secrets as ``secret.NAME``). Raises `TemplateError` on bad
    syntax."""
    return list(_parts(template)[1::2])


def secret_marker(name: str) -> str:
    """What ``{{ secret.NAME }}`` renders to until the request is sent."""
    return f"{MARK_OPEN}{name}{MARK_CLOSE}"


def _render(template: str, variables: Mapping[str, str], escape: Callable[[str], str] | None) -> str:
    if "{" not in template:
        return template
    parts = _parts(template)
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part)
        elif part.startswith(SECRET_PREFIX):
            out.append(secret_marker(part.removeprefix(SECRET_PREFIX)))
        else:
            value = variables.get(part, "")
            if MARK_OPEN in value or MARK_CLOSE in value:
                value = value.translate(_MARKS)
            out.append(escape(value) if escape else value)
    return "".join(out)


def render(template: str, variables: Mapping[str, str]) -> str:
    """Substitute every ``{{ name }}`` with its value (empty when unset)."""
    return _render(template, variables, None)


def _url_escape(value: str) -> str:
    return quote(value, safe="")


def render_url(template: str, variables: Mapping[str, str]) -> str:
    """Like `render`, but each value is percent-encoded, so caller input cannot change the URL's shape."""
    return _render(template, variables, _url_escape)


def _header_escape(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def render_header(template: str, variables: Mapping[str, str]) -> str:
    """Like `render`, with line breaks removed from values so they cannot inject headers."""
    return _render(template, variables, _header_escape)
