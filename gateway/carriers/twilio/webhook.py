"""Authenticating a Twilio webhook: read its parameters, find the project by AccountSid, check the signature.

A request that fails gets 403 and one log line saying why (never a TwiML answer): no AccountSid, an AccountSid no
project uses, a missing or wrong `X-Twilio-Signature`, a body that is not what was signed. Nothing is written to the
database before a request is authenticated, nor for a signed one whose values no database could store (422).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote_plus

import msgspec
from litestar import Request
from litestar.datastructures import Headers

from gateway.carriers.twilio.directory import RECHECK_AFTER, AccountDirectory, TwilioAccount
from gateway.carriers.twilio.params import check_values, is_account_sid
from gateway.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    Network,
    RequestOrigin,
    public_url,
    verify,
)
from gateway.errors import Forbidden

log = logging.getLogger("trunkline.twilio")

WEBHOOK_PREFIX = "/carriers/twilio/"
_FORWARDED = ("forwarded", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port")
FormParams = dict[str, str | list[str]]


class WebhookRejected(Forbidden):
    title = "Twilio webhook rejected"


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook whose signature checked out, with the account that signed it."""

    account: TwilioAccount
    params: dict[str, str]
    """Each parameter's first value (Twilio sends each once)."""
    url: str
    """The URL Twilio signed."""

    @property
    def base_url(self) -> str:
        """Where Twilio reaches this gateway (scheme, host and any path prefix): for our own action URLs."""
        return self.url.split(WEBHOOK_PREFIX, 1)[0]

    def first(self, name: str) -> str | None:
        return self.params.get(name) or None


def origin_of(request: Request[Any, Any, Any], headers: Headers, *, forwarded: bool = True) -> RequestOrigin:
    """Where the request says it was sent; the proxy headers only when `forwarded` (no public URL configured)."""
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    client = scope.get("client")
    return RequestOrigin(
        scheme=scope.get("scheme", "http"),
        host=headers.get("host", ""),
        path=raw_path.decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        peer=client[0] if client else None,
        headers={name: headers[name] for name in _FORWARDED if name in headers} if forwarded else {},
    )


def parse_body(body: bytes, content_type: str | None) -> FormParams | None:
    """The webhook's parameters from a form or JSON body; None when the body is neither."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        try:
            decoded = msgspec.json.decode(body) if body else {}
        except (msgspec.DecodeError, RecursionError):  # RecursionError: arrays or objects nested too deeply
            return None
        if not isinstance(decoded, dict):
            return None
        return {str(k): v if isinstance(v, str) else str(v) for k, v in decoded.items() if v is not None}
    params: FormParams = {}
    for name, value in _form_pairs(text):
        current = params.get(name)
        if current is None:
            params[name] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            params[name] = [current, value]
    return params


def _form_pairs(text: str) -> list[tuple[str, str]]:
    """application/x-www-form-urlencoded pairs, as `parse_qsl(keep_blank_values=True)` reads them, decoding only
    the parts that need it (most of Twilio's are plain)."""
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in name or "+" in name:
            name = _unquote_plus(name)
        if "%" in value or "+" in value:
            value = _unquote_plus(value)
        pairs.append((name, value))
    return pairs


def _unquote_plus(part: str) -> str:
    """`unquote_plus`, with a shortcut for the escaped value Twilio sends most: a number, `%2B` and digits."""
    if part.startswith("%2B") and "%" not in part[3:]:
        return "+" + part[3:].replace("+", " ")
    return unquote_plus(part)


def _first(value: str | list[str]) -> str:
    return value if isinstance(value, str) else (value[0] if value else "")


def _first_values(params: FormParams) -> dict[str, str]:
    """Each parameter's first value: the parameters themselves when none repeats (Twilio sends each once)."""
    if any(value.__class__ is list for value in params.values()):
        return {name: _first(value) for name, value in params.items()}
    return cast(dict[str, str], params)


def reject(reason: str, request: Request[Any, Any, Any], account_sid: str | None = None) -> WebhookRejected:
    log.warning(
        "twilio webhook rejected: %s",
        reason,
        extra={"path": request.scope["path"], "account_sid": account_sid},
    )
    return WebhookRejected(
        "The request is not a Twilio webhook signed for this gateway: "
        + reason
        + ". Check the auth token and that TRUNKLINE_PUBLIC_URL matches the URL configured in Twilio."
    )


async def authenticate(
    request: Request[Any, Any, Any],
    directory: AccountDirectory,
    *,
    public_base_url: str,
    trusted_proxies: tuple[Network, ...],
) -> SignedWebhook:
    """The signed webhook, or `WebhookRejected` (403) saying why it is not one."""
    body = await request.body()
    headers = request.headers
    content_type = headers.get("content-type")
    params = parse_body(body, content_type)
    if params is None:
        raise reject("the body is neither a form nor a JSON object", request)
    account_sid = _first(params.get("AccountSid", ""))
    if not account_sid:
        raise reject("no AccountSid, so no auth token to check the signature with", request)
    if not is_account_sid(account_sid):  # never looked up: e.g. a NUL byte would fail PostgreSQL's query
        raise reject("the AccountSid is not a Twilio account SID (AC and 32 hex digits)", request)
    account = await directory.get(account_sid)
    if account is None:
        raise reject("no project uses this AccountSid", request, account_sid)
    origin = origin_of(request, headers, forwarded=not public_base_url)
    url = public_url(origin, public_base_url=public_base_url, trusted_proxies=trusted_proxies)
    signature = headers.get(SIGNATURE_HEADER)
    settings_header = headers.get(SIGNATURE_SETTINGS_HEADER)

    def check(token: str) -> tuple[bool, str]:
        result = verify(
            url_candidates=url,
            params=params,
            raw_body=body,
            content_type=content_type,
            signature=signature,
            auth_token=token,
            signature_settings=settings_header,
        )
        return result.ok, result.reason

    ok, reason = check(account.auth_token)
    if not ok and signature and directory.age(account) > RECHECK_AFTER:
        reloaded = await directory.get(account_sid, reload=True)
        if reloaded is not None and reloaded.auth_token != account.auth_token:
            account = reloaded
            ok, reason = check(account.auth_token)
    if not ok:
        raise reject(reason, request, account_sid)
    check_values(params)
    return SignedWebhook(account=account, params=_first_values(params), url=url)
