"""The Twirp HTTP layer: `POST /twirp/livekit.<Service>/<Method>`, typed from livekit-protocol's descriptors.

Requests are protobuf (`application/protobuf`) or JSON (`application/json`); a success is HTTP 200 with the
response in the request's encoding; a failure is Twirp's JSON error with the status Twirp gives its code.
Authentication runs first, as LiveKit's middleware does (see `auth`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aiohttp import web
from google.protobuf import json_format, message_factory
from google.protobuf.message import DecodeError, Message
from livekit.protocol import agent_dispatch, connector, egress, ingress, room, sip

from . import auth, errors
from .faults import DownMode, FaultBook

PREFIX = "/twirp/"
SERVICE_MODULES: tuple[ModuleType, ...] = (room, sip, egress, agent_dispatch, ingress, connector)
REQUEST_ID_HEADER = "X-Livekit-Request-Id"


@dataclass(frozen=True)
class Route:
    """One Twirp method: `livekit.SIP/CreateSIPParticipant` with its request and response types."""

    service: str
    method: str
    request_type: type[Message]
    response_type: type[Message]

    @property
    def name(self) -> str:
        return f"{self.service}/{self.method}"


@dataclass(frozen=True)
class CallContext:
    """What a handler knows about the call besides its request: the caller's grants and request id."""

    grants: auth.Grants
    request_id: str


Handler = Callable[[Any, CallContext], Awaitable[Message]]


def routes_from_descriptors(modules: Iterable[ModuleType] = SERVICE_MODULES) -> dict[str, Route]:
    """Every method of every service livekit-protocol declares, keyed by its URL path."""
    table: dict[str, Route] = {}
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                route = Route(
                    service=service.full_name,
                    method=method.name,
                    request_type=message_factory.GetMessageClass(method.input_type),
                    response_type=message_factory.GetMessageClass(method.output_type),
                )
                table[PREFIX + route.name] = route
    return table


class TwirpApp:
    """An aiohttp application answering LiveKit's Twirp API from a table of handlers."""

    def __init__(
        self, *, keys: Mapping[str, str], handlers: Mapping[str, Handler], faults: FaultBook
    ) -> None:
        self.routes = routes_from_descriptors()
        self.down: DownMode | None = None
        self.requests: list[str] = []
        self._keys = keys
        self._handlers = handlers
        self._faults = faults
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._serve)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self.down == "refused" and request.transport is not None:
            request.transport.abort()
            raise ConnectionResetError("the stand-in is down")
        if self.down == "503":
            return web.Response(status=503, text="503 Service Unavailable")
        try:
            grants = auth.authenticate(request.headers.get("Authorization"), self._keys)
        except auth.AuthRejected as rejected:
            return web.Response(status=401, text=rejected.text)
        try:
            route = self._route(request)
            json_body = _is_json(request)
            message = _decode(route, await request.read(), json_body)
            self.requests.append(route.name)
            delay = self._faults.latency(route.name)
            if delay:
                await asyncio.sleep(delay)
            handler = self._handlers.get(route.name)
            if handler is None:
                raise errors.twirp_error("unimplemented", f"{route.name} is not implemented by the stand-in")
            context = CallContext(grants=grants, request_id=request.headers.get(REQUEST_ID_HEADER, ""))
            response = await handler(message, context)
        except errors.TwirpFailure as failure:
            return web.Response(
                status=failure.http_status, body=failure.body(), content_type="application/json"
            )
        if json_body:
            text = json_format.MessageToJson(
                response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
            return web.Response(status=200, text=text, content_type="application/json")
        return web.Response(
            status=200, body=response.SerializeToString(), content_type="application/protobuf"
        )

    def _route(self, request: web.Request) -> Route:
        invalid = {"twirp_invalid_route": f"{request.method} {request.path}"}
        if request.method != "POST":
            raise errors.TwirpFailure(
                "bad_route", f'unsupported method "{request.method}" (only POST is allowed)', invalid
            )
        route = self.routes.get(request.path)
        if route is None:
            raise errors.TwirpFailure("bad_route", f'no handler for path "{request.path}"', invalid)
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() not in ("application/protobuf", "application/json"):
            raise errors.TwirpFailure("bad_route", f'unexpected Content-Type: "{content_type}"', invalid)
        return route


def _is_json(request: web.Request) -> bool:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def _decode(route: Route, body: bytes, json_body: bool) -> Message:
    message = route.request_type()
    try:
        if json_body:
            json_format.Parse(body.decode() or "{}", message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        kind = "json" if json_body else "protobuf"
        raise errors.twirp_error("malformed", f"the {kind} request could not be decoded") from exc
    return message
