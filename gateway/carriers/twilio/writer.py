"""Group commit for new call records: voice webhooks arriving together are inserted in one transaction.

A new call is one row plus a few events. Written one transaction each, the database round trips (and on SQLite
the single connection they queue for) bound the webhook rate; written together, a burst of calls costs about as
much as one. Requests hand their rows to `CallWriter.insert` and wait: the writer takes everything pending, inserts
it with two executemany statements and one commit, and tells each request whether its row went in. A row whose
CallSid is already recorded (a retry, or a status callback that came first) is reported as `False`; the batch is
then retried row by row so the others still go in.

A request must not hold a database connection while it waits here (SQLite has one).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.calls.records import CALL_COLUMNS, INSERT_CALLS, INSERT_EVENTS
from gateway.db.batching import Batcher
from gateway.db.bulk import write_together
from gateway.db.models import Call

log = logging.getLogger("trunkline.twilio.writer")

MAX_BATCH = 128
Row = dict[str, Any]


def call_row(call: Call) -> Row:
    return {name: getattr(call, name) for name in CALL_COLUMNS}


def event_row(call_id: str, seq: int, kind: str, source: str, data: dict[str, Any], at: Any) -> Row:
    return {
        "call_id": call_id,
        "seq": seq,
        "at": at,
        "kind": kind,
        "source": source,
        "data": data,
        "dedupe_key": None,
    }


Pending = tuple[Row, list[Row], asyncio.Future[bool]]


class CallWriter:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self._queue: Batcher[Pending] = Batcher(
            self._write_guarded, name="twilio-call-writer", max_batch=max_batch
        )
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        self._queue.start()

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        await self._queue.stop()

    async def insert(self, call: Row, events: list[Row]) -> bool:
        """Insert the call and its events; False when a call with that (carrier, carrier_call_id) exists."""
        if not self._queue.running:
            return await self._write_one(call, events)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put((call, events, future))
        return await future

    async def _write_guarded(self, batch: list[Pending]) -> None:
        try:
            await self._write_batch(batch)
        except Exception as error:  # the requests report it; the writer keeps serving
            log.exception("writing new calls failed")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)

    async def _write_batch(self, batch: list[Pending]) -> None:
        calls = [call for call, _, _ in batch]
        events = [event for _, rows, _ in batch for event in rows]
        try:
            await write_together(self.engine, ((INSERT_CALLS, calls), (INSERT_EVENTS, events)))
        except IntegrityError:
            for call, events, future in batch:
                if not future.done():
                    future.set_result(await self._write_one(call, events))
            return
        self.batches += 1
        self.rows += len(batch)
        for _, _, future in batch:
            if not future.done():
                future.set_result(True)

    async def _write_one(self, call: Row, events: list[Row]) -> bool:
        try:
            await write_together(self.engine, ((INSERT_CALLS, [call]), (INSERT_EVENTS, events)))
        except IntegrityError:
            return False
        return True
