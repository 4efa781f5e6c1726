"""When an inbound call is answered. LiveKit sends no webhook when `sip.callStatus` turns "active", so a call that
joined ringing is polled (`GetParticipant`) until it is answered or gone; the answer time is when it was seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.calls.lifecycle import CallState, StatusUpdate
from gateway.calls.store import CallEdit, CallRef, CallStore
from gateway.db.types import utcnow

from .errors import LiveKitError, LiveKitUnavailable
from .facade import LiveKit
from .tasks import Tasks

logger = logging.getLogger("gateway.livekit.answers")

POLL_EVERY = 0.25
GIVE_UP_AFTER = 180.0
"""Longer than any ringing timeout: an unanswered call ends before this (and its leave stops the watch)."""


class AnswerWatch:
    def __init__(
        self,
        store: CallStore,
        tasks: Tasks,
        *,
        poll_every: float = POLL_EVERY,
        give_up_after: float = GIVE_UP_AFTER,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._poll_every = poll_every
        self._give_up_after = give_up_after
        self._clock = clock or asyncio.get_running_loop().time
        self._watching: dict[tuple[str, str], asyncio.Task[None]] = {}

    def watch(self, livekit: LiveKit, room: str, identity: str, call_id: str) -> None:
        key = (room, identity)
        if key in self._watching:
            return
        task = self._tasks.spawn(self._poll(livekit, room, identity, call_id), name=f"answer watch {call_id}")
        self._watching[key] = task
        task.add_done_callback(lambda _: self._watching.pop(key, None))

    def stop(self, room: str, identity: str) -> None:
        task = self._watching.pop((room, identity), None)
        if task is not None:
            task.cancel()

    async def _poll(self, livekit: LiveKit, room: str, identity: str, call_id: str) -> None:
        deadline = self._clock() + self._give_up_after
        while self._clock() < deadline:
            await asyncio.sleep(self._poll_every)
            try:
                participant = await livekit.get_participant(room, identity)
            except (LiveKitError, LiveKitUnavailable):
                continue
            if participant is None or participant.sip is None:
                return
            status = participant.sip.call_status
            if status in ("active", "automation"):
                await self._answered(call_id)
                return
            if status == "hangup":
                return
        logger.info("stopped waiting for an inbound call to be answered", extra={"call_id": call_id})

    async def _answered(self, call_id: str) -> None:
        update = StatusUpdate(state=CallState.ANSWERED, at=utcnow())

        def work(edit: CallEdit) -> None:
            edit.fold(
                update, source="livekit", dedupe_key="livekit.answered", data={"seen": "sip.callStatus"}
            )

        await self._store.change(CallRef(call_id=call_id), work)
