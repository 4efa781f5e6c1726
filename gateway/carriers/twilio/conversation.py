"""What the gateway remembers between a Twilio call's webhooks, stored in the call record (`Call.ivr_state`).

Any replica can continue a call: the IVR state, the answers already given (so a retried webhook gets the same
answer), and where to go if the current `<Dial>` fails all live in the database, never in memory.

Answers are numbered from 1: the voice webhook's answer is turn 1; the answer to the input posted for turn k is
turn k+1. Each answer's action URLs carry its turn (`?turn=k`), so a retried post (same URL, same body) is
recognised and answered from `replies` instead of advancing the call twice. The call's events carry the same
number: `turn` on `twilio.voice` / `twilio.input` / `twilio.answer`, `ivr.step` and `ivr.prompt` is the answer they
belong to (an input also says which answer it replied to, `reply_to`).
"""

from __future__ import annotations

import time

import msgspec

from gateway.db.models import Call
from gateway.ivr import IvrState
from routing.model import Target

VOICE = "voice"
"""Key of the voice webhook's answer in `replies`."""
MAX_REPLIES = 4
CLAIM_SECONDS = 5.0
"""A pending answer older than this is assumed abandoned (its replica died) and may be taken over."""


class Conversation(msgspec.Struct, kw_only=True, omit_defaults=True):
    turn: int = 1
    """Number of the latest answer given, from 1 (see the module docstring)."""
    replies: dict[str, str] = msgspec.field(default_factory=dict)
    """Request key (`voice` or a turn number) -> the TwiML answered, for retries; the last few only."""
    pending: dict[str, float] = msgspec.field(default_factory=dict)
    """Request key -> when an answer started being prepared (it waits on LiveKit or an HTTP lookup)."""
    ivr: IvrState | None = None
    fallback: Target | None = None
    """Where the caller goes when the `<Dial>` of the latest answer fails (a route's fallback)."""
    dispatched: list[str] = msgspec.field(default_factory=list)
    """Agents already dispatched into the call's LiveKit room."""
    answered: bool = False
    """Whether any answer was given yet (a status callback may create the record first)."""

    def reply_for(self, key: str) -> str | None:
        return self.replies.get(key)

    def claimed(self, key: str, now: float | None = None) -> bool:
        """Another request is preparing the answer for `key` and has not given up."""
        started = self.pending.get(key)
        return started is not None and (now or time.time()) - started < CLAIM_SECONDS

    def claim(self, key: str) -> None:
        self.pending[key] = time.time()

    def remember(self, key: str, twiml: str) -> None:
        self.pending.pop(key, None)
        self.replies[key] = twiml
        self.answered = True
        while len(self.replies) > MAX_REPLIES:
            oldest = next(k for k in self.replies if k != VOICE) if len(self.replies) > 1 else VOICE
            del self.replies[oldest]

    def latest_reply(self) -> str | None:
        if not self.replies:
            return None
        return self.replies[next(reversed(self.replies))]


def load(call: Call) -> Conversation:
    if not call.ivr_state:
        return Conversation()
    return msgspec.convert(call.ivr_state, Conversation, strict=False)


def store_in(call: Call, conversation: Conversation) -> None:
    call.ivr_state = msgspec.to_builtins(conversation)
