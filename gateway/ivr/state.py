"""The engine's per-call data: what the call started with, where it is, and what a turn produced.

`IvrState` is small and serialisable (`encode_state` / `decode_state`), so an adapter can store it per call
and any replica can continue the call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

from gateway.ivr.actions import Action

__all__ = [
    "BUILTIN_VARIABLES",
    "Frame",
    "IvrContext",
    "IvrState",
    "Outcome",
    "OutcomeKind",
    "Turn",
    "WaitKind",
    "decode_state",
    "encode_state",
]

BUILTIN_VARIABLES = frozenset({"caller", "called", "call_id"})
"""Variables every flow can use; they are set when the call starts and cannot be assigned."""

WaitKind: TypeAlias = Literal["input", "http", "transfer", "record", "done"]
OutcomeKind: TypeAlias = Literal["hangup", "transferred", "caller_hangup", "failed"]


class IvrContext(msgspec.Struct, frozen=True, kw_only=True):
    """The call a flow starts for. `now` must be timezone-aware (business hours depend on it)."""

    caller: str
    called: str
    call_id: str
    now: datetime
    variables: dict[str, str] = msgspec.field(default_factory=dict)


class Frame(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Where to come back to when an included flow reaches a `return` step."""

    flow: str
    step: str


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """How the flow ended: hung up (reason), transferred (target label), caller hung up, or failed."""

    kind: OutcomeKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


class IvrState(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    call_id: str
    flow: str
    step: str
    wait: WaitKind
    variables: dict[str, str]
    started_at: datetime
    versions: list[str]
    """Every flow version this call ran, as ``flow_id@version``, in order."""
    failures: int = 0
    timeouts: int = 0
    stack: list[Frame] = msgspec.field(default_factory=list)
    answered: bool = False
    outcome: Outcome | None = None

    @property
    def ended(self) -> bool:
        return self.wait == "done"


class Turn(msgspec.Struct, frozen=True, gc=False):
    state: IvrState
    actions: list[Action]
    steps: list[str] = msgspec.field(default_factory=list)
    """The type of every step run during the turn, in order (for metrics)."""


_decoder = msgspec.json.Decoder(IvrState)


def encode_state(state: IvrState) -> bytes:
    return msgspec.json.encode(state)


def decode_state(data: bytes | str) -> IvrState:
    return _decoder.decode(data)
