"""The OpenAPI document tells the truth about errors and carrier webhooks.

Litestar documents every validating operation with its own default 400 body (`status_code`, `detail`, `extra`);
the gateway answers every error as an RFC 9457 problem (`gateway.web.problems`). `document_problems` replaces that
with one shared `Problem` schema and lists, on each operation, the 4xx answers it can give. It also documents the
form fields carriers post to their webhooks (those handlers read the raw form, so Litestar sees no body).

It runs once, on the first request for the document (`schema_router`'s hook), never at start-up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar import Request, Router
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from gateway.web.problems import PROBLEM_JSON

__all__ = ["PROBLEM_SCHEMA", "FormBodies", "document_problems", "form_schema", "schema_router"]

_PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description="An error (RFC 9457): `detail` says what was wrong and what to do; `field` names the input.",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, example="about:blank"),
        "title": Schema(type=OpenAPIType.STRING, example="Invalid input"),
        "status": Schema(type=OpenAPIType.INTEGER, example=422),
        "detail": Schema(type=OpenAPIType.STRING, description="What was wrong and what to do about it."),
        "field": Schema(
            type=OpenAPIType.STRING, description="The offending field (dotted path), when one is."
        ),
        "request_id": Schema(type=OpenAPIType.STRING, description="Quote it when reporting a problem."),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="Every invalid field of a request that did not validate (400).",
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "field": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
                    "message": Schema(type=OpenAPIType.STRING),
                    "source": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
                },
            ),
        ),
    },
    additional_properties=True,
)

_WHY = {
    400: "The request does not have the documented shape (`errors` lists each invalid field).",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "Not allowed: the key's role cannot do this, or the webhook's signature is wrong.",
    404: "No such object in the caller's project.",
    409: "Conflicts with the current state (a unique value taken, an object still in use).",
    422: "Well-formed but not acceptable (e.g. a number that is not valid, a flow with errors).",
    429: "Too many calls for the project's calls-per-second limit; retry later.",
}

FormBodies = Mapping[str, tuple[type[msgspec.Struct], ...]]
"""Form bodies of webhooks that read the raw form, by operation id."""

_RATE_LIMITED = frozenset({"createCall"})


def _statuses(path: str, method: str, operation: Operation) -> list[int]:
    takes_input = operation.request_body is not None or any(
        getattr(parameter, "param_in", None) == "query" for parameter in operation.parameters or ()
    )
    found = [400, 422] if takes_input else []
    if "400" in (operation.responses or {}):
        found.append(400)  # the framework's validation answer, which the gateway sends as a problem
    if path.startswith("/v1/"):
        found += [401, 403]
        if "{" in path:
            found.append(404)
        if method != "get":
            found.append(409)
        if operation.operation_id in _RATE_LIMITED:
            found.append(429)
    elif path.startswith(("/carriers/", "/webhooks/")):
        found += [403, 422]
    return sorted(set(found))


def _problem_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_WHY[status],
        content={PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref=_PROBLEM_REF))},
    )


def _scalar(kind: mi.Type) -> Schema:
    members = kind.types if isinstance(kind, mi.UnionType) else (kind,)
    for member in members:
        if isinstance(member, mi.IntType):
            return Schema(type=OpenAPIType.INTEGER)
        if isinstance(member, mi.FloatType):
            return Schema(type=OpenAPIType.NUMBER)
        if isinstance(member, mi.BoolType):
            return Schema(type=OpenAPIType.BOOLEAN)
        if isinstance(member, mi.LiteralType):
            return Schema(type=OpenAPIType.STRING, enum=list(member.values))
        if isinstance(member, mi.EnumType):
            return Schema(
                type=OpenAPIType.STRING,
                enum=[item.value for item in member.cls if isinstance(item, enum.Enum)],
            )
    return Schema(type=OpenAPIType.STRING)


def form_schema(forms: tuple[type[msgspec.Struct], ...], example: Mapping[str, str]) -> Schema:
    """A form's fields (by their encoded names, e.g. Twilio's); required: those every one of `forms` requires."""
    properties: dict[str, Schema | Reference] = {}
    required: list[str] | None = None
    for form in forms:
        info = mi.type_info(form)
        assert isinstance(info, mi.StructType)
        names = [field.encode_name for field in info.fields if field.required]
        required = names if required is None else [name for name in required if name in names]
        for field in info.fields:
            properties.setdefault(field.encode_name, _scalar(field.type))
    return Schema(
        type=OpenAPIType.OBJECT,
        description=f"Form fields ({' or '.join(form.__name__ for form in forms)}); unknown fields are ignored.",
        properties=properties,
        required=required or None,
        additional_properties=True,
        example={name: example[name] for name in required or () if name in example},
    )


def document_problems(openapi: OpenAPI, forms: FormBodies, example: Mapping[str, str]) -> None:
    """Shared `Problem` schema, problem responses on every operation, and the webhooks' form bodies."""
    openapi.components.schemas = {**(openapi.components.schemas or {}), "Problem": PROBLEM_SCHEMA}
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status in _statuses(path, method, operation):
                responses[str(status)] = _problem_response(status)
            operation.responses = responses
            form = forms.get(operation.operation_id or "")
            if form is not None:
                operation.request_body = RequestBody(
                    required=True,
                    description="Signed by the carrier (e.g. X-Twilio-Signature).",
                    content={
                        "application/x-www-form-urlencoded": OpenAPIMediaType(
                            schema=form_schema(form, example)
                        )
                    },
                )


def schema_router(path: str, forms: FormBodies, example: Mapping[str, str]) -> Router:
    """The router the OpenAPI plugin serves its documents on, completing the document before the first one."""

    def complete(request: Request[Any, Any, Any]) -> None:
        openapi = request.app.openapi_schema
        if openapi.components.schemas is None or "Problem" not in openapi.components.schemas:
            document_problems(openapi, forms, example)

    return Router(
        path, route_handlers=[], include_in_schema=False, dto=None, return_dto=None, before_request=complete
    )
