"""One webhook's work on one call record: the row, its conversation state and the events to append, saved together.

A new call is inserted with its first events in one flush (no sequence lookups: they are 1..n); a retry racing it
hits the (carrier, carrier_call_id) unique key and is answered from the stored reply instead. Work that waits on
LiveKit or an HTTP lookup first `checkpoint`s, committing so that the database is not held while waiting (SQLite
has one connection) and so that a retry of the same webhook waits for this answer rather than making another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.carriers.twilio.conversation import Conversation, store
from gateway.db.models import Call, CallEvent
from gateway.db.types import utcnow

SOURCE = "twilio"


class Exchange:
    def __init__(self, db: AsyncSession, call: Call, conversation: Conversation, *, is_new: bool) -> None:
        self.db = db
        self.call = call
        self.conversation = conversation
        self.is_new = is_new
        self._events: list[tuple[str, str, dict[str, Any], datetime]] = []

    def event(self, kind: str, data: dict[str, Any] | None = None, *, source: str = SOURCE) -> None:
        """Append an event to the call (written with the next save, in this order)."""
        self._events.append((kind, source, data or {}, utcnow()))

    async def _next_seq(self) -> int:
        if self.is_new:
            return 1
        await self.db.execute(select(Call.id).where(Call.id == self.call.id).with_for_update())
        last = await self.db.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == self.call.id))
        return (last or 0) + 1

    async def save(self) -> None:
        """Write the call, its conversation state and the pending events, and commit."""
        store(self.call, self.conversation)
        self.call.updated_at = utcnow()
        seq = await self._next_seq() if self._events else 0
        if self.is_new:
            self.db.add(self.call)
        self.db.add_all(
            CallEvent(call_id=self.call.id, seq=seq + i, at=at, kind=kind, source=source, data=data)
            for i, (kind, source, data, at) in enumerate(self._events)
        )
        await self.db.commit()
        self._events.clear()
        self.is_new = False

    async def checkpoint(self, key: str) -> None:
        """Claim the answer for `key` and commit before waiting on something slow."""
        self.conversation.claim(key)
        await self.save()
