"""What the engine asks the call to do. Carrier adapters render these (TwiML for Twilio, audio in LiveKit).

A turn's actions always end with exactly one of: `Gather` (prompt + wait for input), `Record`, a transfer
(`DialNumber`, `DialSip`, `ConnectAgent`), `Hangup`, or `HttpRequest` (the adapter performs it and advances
the engine with an `HttpResult`; see `gateway.ivr.driver`). `Say` and `Play` come before it.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

__all__ = [
    "Action",
    "ConnectAgent",
    "DialNumber",
    "DialSip",
    "Gather",
    "Hangup",
    "HttpRequest",
    "Play",
    "Record",
    "RejectReason",
    "Say",
    "Sound",
    "is_final",
]

InputKind: TypeAlias = Literal["dtmf", "speech"]
RejectReason: TypeAlias = Literal["busy", "rejected"]


class _Action(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag_field="action"):
    pass


class Say(_Action, frozen=True, tag="say"):
    text: str
    voice: str | None = None
    language: str | None = None


class Play(_Action, frozen=True, tag="play"):
    """`url` is absolute, or a path relative to the flows directory (the renderer turns it into a URL)."""

    url: str
    loop: int = 1


Sound: TypeAlias = Say | Play


class Gather(_Action, frozen=True, tag="gather"):
    """Play `prompts` (the caller may interrupt them) and wait for digits and/or speech."""

    prompts: list[Sound]
    input: list[InputKind]
    timeout: float
    inter_digit_timeout: float
    num_digits: int | None = None
    finish_on_key: str = "#"
    hints: list[str] = msgspec.field(default_factory=list)
    language: str | None = None


class Record(_Action, frozen=True, tag="record"):
    max_length: int
    beep: bool = True
    finish_on_key: str = "#"
    timeout: int = 5
    transcribe: bool = False


class DialNumber(_Action, frozen=True, tag="dial_number"):
    number: str
    caller_id: str | None = None
    timeout: int = 30


class DialSip(_Action, frozen=True, tag="dial_sip"):
    """Dial a SIP URI; `username`/`password` answer the far end's digest challenge (e.g. LiveKit's bridge trunk)."""

    uri: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    caller_id: str | None = None
    timeout: int = 30
    username: str | None = None
    password: str | None = None


class ConnectAgent(_Action, frozen=True, tag="connect_agent"):
    """Bridge the caller to a voice agent in LiveKit; `overrides` deep-merge over the agent's stored config.

    Adapters resolve it (create the room and dispatch, then dial LiveKit SIP) before rendering; see
    `gateway.ivr.twiml.render_twiml`.
    """

    agent: str
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    timeout: int = 30
    announcement: int = 0
    """How many of the sounds just before this action announce the transfer ("Connecting you..."): an adapter
    that finds the agent cannot take the call drops them, so the caller does not hear a promise that fails."""


class HttpRequest(_Action, frozen=True, tag="http"):
    method: str
    url: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: dict[str, str] | None = None
    timeout: float = 3.0


class Hangup(_Action, frozen=True, tag="hangup"):
    """End the call. `reject` refuses it unanswered (busy / rejected) when nothing has been played yet."""

    reason: str = "completed"
    reject: RejectReason | None = None


Action: TypeAlias = Say | Play | Gather | Record | DialNumber | DialSip | ConnectAgent | HttpRequest | Hangup

_FINAL = (Gather, Record, DialNumber, DialSip, ConnectAgent, HttpRequest, Hangup)


def is_final(action: Action) -> bool:
    """True for the actions a turn ends with (input, record, transfer, hang-up, or an HTTP request)."""
    return isinstance(action, _FINAL)
