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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.draft import CallDraft
from gateway.carriers.twilio.conversation import Conversation, store
from gateway.carriers.twilio.writer import CallWriter, call_row, event_row
from gateway.db.models import Call, CallEvent
from gateway.db.types import utcnow

SOURCE = "twilio"


class CallExists(Exception):
    """A new call's (carrier, CallSid) is already recorded: a retry, or a callback that came first."""


class Exchange:
    def __init__(
        self,
        db: AsyncSession,
        call: Call | CallDraft,
        conversation: Conversation,
        *,
        is_new: bool,
        writer: CallWriter | None = None,
    ) -> None:
        self.db = db
        self.call = call
        self.conversation = conversation
        self.is_new = is_new
        self.writer = writer
        self._events: list[tuple[str, str, dict[str, Any], datetime]] = []

    def event(self, kind: str, data: dict[str, Any] | None = None, *, source: str = SOURCE) -> dict[str, Any]:
        """Append an event to the call (written with the next save, in this order); its data, still mutable."""
        body = data if data is not None else {}
        self._events.append((kind, source, body, utcnow()))
        return body

    def annotate(self, body: dict[str, Any], **values: Any) -> None:
        """Add to an event's data while it is unsaved; once saved (a checkpoint), record them as `twilio.answer`."""
        if any(data is body for _, _, data, _ in self._events):
            body.update(values)
        else:
            self.event("twilio.answer", values, source="gateway")

    async def _next_seq(self) -> int:
        if self.is_new:
            return 1
        await self.db.execute(select(Call.id).where(Call.id == self.call.id).with_for_update())
        last = await self.db.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == self.call.id))
        return (last or 0) + 1

    async def save(self) -> None:
        """Write the call, its conversation state and the pending events, and commit.

        A new call goes through the group-commit writer when there is one; `CallExists` when it is recorded already.
        """
        store(self.call, self.conversation)
        self.call.updated_at = utcnow()
        if self.is_new and self.writer is not None:
            rows = [
                event_row(self.call.id, i + 1, kind, source, data, at)
                for i, (kind, source, data, at) in enumerate(self._events)
            ]
            row = self.call.row() if isinstance(self.call, CallDraft) else call_row(self.call)
            if not await self.writer.insert(row, rows):
                raise CallExists(self.call.carrier_call_id)
            self._events.clear()
            self.is_new = False
            return
        await self._save_in_session()

    async def _save_in_session(self) -> None:
        if isinstance(self.call, CallDraft):
            self.call = self.call.to_orm()
        store(self.call, self.conversation)
        seq = await self._next_seq() if self._events else 0
        if self.is_new:
            self.db.add(self.call)
        self.db.add_all(
            CallEvent(call_id=self.call.id, seq=seq + i, at=at, kind=kind, source=source, data=data)
            for i, (kind, source, data, at) in enumerate(self._events)
        )
        try:
            await self.db.commit()
        except IntegrityError:
            if not self.is_new:
                raise
            await self.db.rollback()
            raise CallExists(self.call.carrier_call_id) from None
        self._events.clear()
        self.is_new = False

    async def checkpoint(self, key: str) -> None:
        """Claim the answer for `key` and commit before waiting on something slow (the call stays in the session)."""
        self.conversation.claim(key)
        self.call.updated_at = utcnow()
        await self._save_in_session()
