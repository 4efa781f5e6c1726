"""`http`: look something up over HTTP, keep parts of the JSON answer in variables, fall back on error."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from gateway.ivr.actions import HttpRequest
from gateway.ivr.events import Event, HttpResult
from gateway.ivr.problems import FieldPath, Issue
from gateway.ivr.steps.base import CheckContext, Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run

_FIXED_ORIGIN = re.compile(r"^https?://[^/?#{}\s]+[/?]")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


class HttpStep(StepBase, frozen=True, tag="http"):
    """Call `url` (JSON), copy fields of the reply into variables (`results`), go to `next`.

    Any failure (no answer within `timeout`, a status outside 200-299, a reply that is not JSON) goes to
    `on_error` instead. Values from variables are URL-encoded where they appear in `url`.
    """

    url: Annotated[
        str,
        msgspec.Meta(
            description="https URL; {{ variables }} may appear after the host, never in it",
            examples=["https://crm.example.com/accounts/{{ account_number }}"],
        ),
    ]
    next: StepRef
    on_error: Annotated[StepRef, msgspec.Meta(description="Step to go to when the lookup fails or times out")]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: Annotated[dict[str, str] | None, msgspec.Meta(description="JSON object to send")] = None
    timeout: Annotated[float, msgspec.Meta(gt=0, le=10, description="Seconds before giving up")] = 3.0
    results: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="Variable -> where its value is in the JSON reply (dotted path, e.g. customer.name)",
            examples=[{"customer_name": "customer.name", "first_order": "orders.0.id"}],
        ),
    ] = msgspec.field(default_factory=dict)

    def links(self) -> list[Link]:
        return [
            Link(("next",), self.next, "result", "ok"),
            Link(("on_error",), self.on_error, "result", "error"),
        ]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        yield ("url",), self.url
        for name, value in self.headers.items():
            yield ("headers", name), value
        for name, value in (self.body or {}).items():
            yield ("body", name), value

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("results", name), name) for name in self.results]

    def check(self, context: CheckContext) -> Iterable[Issue]:
        if not self.url.startswith(("https://", "http://")):
            yield Issue(("url",), "the URL must start with https:// (or http://)")
        elif "{{" in self.url and not _FIXED_ORIGIN.match(self.url.split("{{", 1)[0]):
            yield Issue(
                ("url",),
                "the host of the URL must be written out, not taken from a variable",
                "put {{ variables }} in the path or query only",
            )
        for name in self.headers:
            if not _HEADER_NAME.match(name):
                yield Issue(("headers", name), f"'{name}' is not a valid header name", at_key=True)
        if self.body is not None and self.method in ("GET", "DELETE"):
            yield Issue(("body",), f"a {self.method} request has no body", "use method: POST", at_key=True)

    def enter(self, run: Run) -> str | None:
        run.request(
            HttpRequest(
                method=self.method,
                url=run.url(self.url),
                headers={name: run.header(value) for name, value in self.headers.items()},
                body={name: run.text(value) for name, value in self.body.items()}
                if self.body is not None
                else None,
                timeout=self.timeout,
            )
        )
        return None

    def resume(self, run: Run, event: Event) -> str | None:
        if not isinstance(event, HttpResult) or not event.ok:
            return self.on_error
        for name, path in self.results.items():
            run.vars[name] = as_text(pick(event.body, path))
        return self.next


def pick(document: Any, path: str) -> Any:
    """The value at a dotted path (``orders.0.id``) in decoded JSON, or None when it is not there."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return msgspec.json.encode(value).decode()
