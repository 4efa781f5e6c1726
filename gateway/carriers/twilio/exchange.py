"""One webhook's work on one call record: the call as this request sees it, its conversation state, and the events
to append, saved together through the call store.

A new call is created with its first events (the store groups creations arriving together); a retry racing it
finds the CallSid recorded (`CallExists`) and is answered from the stored reply instead. Work that waits on LiveKit
or an HTTP lookup first `checkpoint`s: the claim on the answer is saved, so nothing is held while waiting and a
retry of the same webhook waits for this answer rather than making another.
"""

from __future__ import annotations

from typing import Any

from gateway.calls.store import CallEdit, CallStore
from gateway.carriers.twilio.conversation import Conversation, store_in
from gateway.db.models import Call

SOURCE = "twilio"


class CallExists(Exception):
    """A new call's (carrier, CallSid) is already recorded: a retry, or a callback that came first."""


class Exchange:
    def __init__(self, store: CallStore, edit: CallEdit, conversation: Conversation) -> None:
        self.store = store
        self.edit = edit
        self.conversation = conversation

    @property
    def call(self) -> Call:
        return self.edit.call

    @property
    def is_new(self) -> bool:
        return self.edit.is_new

    def event(self, kind: str, data: dict[str, Any] | None = None, *, source: str = SOURCE) -> dict[str, Any]:
        """Append an event to the call (written with the next save, in this order); its data, still mutable."""
        return self.edit.event(kind, data, source=source)

    def annotate(self, body: dict[str, Any], **values: Any) -> None:
        """Add to an event's data while it is unsaved; once saved (a checkpoint), record them as `twilio.answer`."""
        if self.edit.is_pending(body):
            body.update(values)
        else:
            self.event("twilio.answer", values, source="gateway")

    async def save(self) -> None:
        """Write the call, its conversation state and the pending events; `CallExists` when a new call's CallSid
        is recorded already."""
        store_in(self.edit.call, self.conversation)
        if self.edit.is_new:
            if not await self.store.create(self.edit):
                raise CallExists(self.edit.call.carrier_call_id)
            return
        await self.store.save(self.edit)

    async def checkpoint(self, key: str) -> None:
        """Claim the answer for `key` and save before waiting on something slow."""
        self.conversation.claim(key)
        await self.save()
