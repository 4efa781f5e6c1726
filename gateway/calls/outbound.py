"""Outbound calls, whatever the carrier: the request, the seam each carrier implements, and the common checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import msgspec
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.lifecycle import StatusUpdate
from gateway.calls.store import CallEdit
from gateway.db.models import Agent, Project

Carrier = Literal["twilio", "livekit"]


class OutboundCallIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    carrier: Carrier
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["+14155550100"])]
    """Destination: E.164, or national format for the project's default region."""
    from_: str = msgspec.field(name="from")
    """Caller ID: one of this project's numbers."""
    agent: str | None = None
    """Agent name to attach (its stored definition deep-merged with `overrides`)."""
    flow: str | None = None
    """IVR flow to run when the callee answers (Twilio)."""
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    trunk_id: str | None = None
    """Outbound trunk (LiveKit); the project's first outbound trunk when omitted."""
    ringing_timeout: Annotated[int, msgspec.Meta(ge=5, le=120)] = 30
    max_duration: Annotated[int, msgspec.Meta(ge=10, le=86_400)] = 3600
    wait_until_answered: bool = False
    """Answer only once the callee picks up (or the call fails), with the final SIP status."""
    play_dialtone: bool = False
    dtmf: Annotated[str, msgspec.Meta(pattern=r"^[0-9*#w]{0,64}$")] = ""
    """Digits to send once answered (w = 0.5 s pause)."""


@dataclass(frozen=True)
class PlaceContext:
    """Everything a carrier needs to place one validated call; `edit.call` is already stored (status initiated).
    A placer that changes the call before dialling saves it through the call store first (never holding a
    transaction across the dial); what it learns from dialling it returns in `PlacedCall`."""

    edit: CallEdit
    request: OutboundCallIn
    project: Project
    agent: Agent | None
    agent_config: dict[str, Any]
    """The agent's stored config deep-merged with the request's overrides."""
    to_e164: str
    from_e164: str
    state: State


class PlacedCall(msgspec.Struct, kw_only=True):
    carrier_call_id: str | None = None
    livekit_room: str | None = None
    update: StatusUpdate | None = None
    """What is known right away (answered, or a failure with its SIP code); later progress arrives by webhook."""
    end_reason: str | None = None
    after_commit: Callable[[], None] | None = None
    """Work to start once the call record is committed (e.g. a background dial that will update it)."""


class CallPlacer(Protocol):
    async def check(self, db: AsyncSession, project: Project, request: OutboundCallIn) -> None:
        """Refuse a request this carrier cannot place (an `AppError` saying why), before anything is recorded;
        reads only, in the request's session."""
        ...

    async def place(self, ctx: PlaceContext) -> PlacedCall:
        """Start the call with the carrier. Raise `gateway.errors.UpstreamUnavailable` when it cannot be reached."""
        ...


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursing into nested objects (lists and scalars are replaced)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        merged[key] = (
            deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
        )
    return merged
