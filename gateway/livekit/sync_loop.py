"""Background syncing: after every relevant commit, on a timer (drift), and with backoff while LiveKit is down.

`ChangeWatch` listens to SQLAlchemy commits of the app's engine: a commit that touched a trunk, number, route,
dispatch rule or project marks that project dirty and wakes the loop (a cheap `asyncio.Event`). Commits of the
reconciler itself (`sync_store.QUIET`) do not. A dirty project gets a change-triggered sync (only what changed,
`sync_scope`), with the LiveKit ids of the trunks and rules the commit deleted; a changed project row (its
LiveKit credentials, say) gets a full one. Every `DRIFT_INTERVAL` all projects get a full sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from gateway.db.database import Database
from gateway.db.locks import AdvisoryLock
from gateway.db.models import DispatchRule, PhoneNumber, Project, Route, Trunk

from . import sync_store
from .desired import Kind
from .reconciler import Reconciler
from .sync_scope import Gone

logger = logging.getLogger("gateway.livekit.sync")

WATCHED = (Trunk, PhoneNumber, Route, DispatchRule, Project)
_PENDING = "trunkline.livekit_dirty"


@dataclass
class Touched:
    """What one commit changed: projects to sync, which of them need a full sync, LiveKit objects to delete."""

    projects: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    gone: dict[str, list[Gone]] = field(default_factory=dict)

    def note(self, obj: object) -> None:
        project_id = obj.id if isinstance(obj, Project) else getattr(obj, "project_id", None)
        if not isinstance(project_id, str):
            return
        self.projects.add(project_id)
        if isinstance(obj, Project):
            self.full.add(project_id)

    def note_deleted(self, obj: object) -> None:
        loaded = inspect(obj).dict  # what the session already holds: no lazy load inside a flush
        gone: Gone | None = None
        if isinstance(obj, Trunk) and loaded.get("livekit_trunk_id"):
            kind: Kind = "inbound_trunk" if loaded.get("direction") == "inbound" else "outbound_trunk"
            gone = Gone(kind, loaded["livekit_trunk_id"])
        elif isinstance(obj, DispatchRule) and loaded.get("livekit_rule_id"):
            gone = Gone("dispatch_rule", loaded["livekit_rule_id"])
        project_id = loaded.get("project_id")
        if gone is not None and isinstance(project_id, str):
            self.gone.setdefault(project_id, []).append(gone)

    def merge(self, other: Touched) -> None:
        self.projects |= other.projects
        self.full |= other.full
        for project_id, gone in other.gone.items():
            self.gone.setdefault(project_id, []).extend(gone)


DRIFT_INTERVAL = 60.0
"""Seconds between full syncs that catch changes made in LiveKit (or by other replicas)."""
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
DEBOUNCE = 0.05
"""A burst of changes (say, 50 numbers added) becomes one sync."""
BUSY_RETRY = 1.0
"""Seconds before trying again when another replica is running a round."""
ROUND_LOCK = "trunkline.livekit.sync"
"""Replicas on one PostgreSQL database take turns: one round at a time, or two would both see the same drift and
create the same LiveKit objects twice."""


class ChangeWatch:
    """Calls `on_change(touched)` on the event loop after each commit that changed desired state."""

    def __init__(self, engine: AsyncEngine, on_change: Callable[[Touched], None]) -> None:
        self._engine = engine.sync_engine
        self._on_change = on_change
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> ChangeWatch:
        event.listen(Session, "after_flush", self._after_flush)
        event.listen(Session, "after_commit", self._after_commit)
        event.listen(Session, "after_rollback", self._after_rollback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(Session, "after_flush", self._after_flush)
        event.remove(Session, "after_commit", self._after_commit)
        event.remove(Session, "after_rollback", self._after_rollback)

    def _ours(self, session: Session) -> bool:
        return session.bind is self._engine and not session.info.get(sync_store.QUIET)

    def _after_flush(self, session: Session, _context: Any) -> None:
        if not self._ours(session):
            return
        touched = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, WATCHED)]
        if touched:
            pending: Touched = session.info.setdefault(_PENDING, Touched())
            for obj in touched:
                pending.note(obj)
            for obj in session.deleted:
                if isinstance(obj, (Trunk, DispatchRule)):
                    pending.note_deleted(obj)

    def _after_commit(self, session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending is not None and pending.projects:
            self._loop.call_soon_threadsafe(self._on_change, pending)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)


class SyncLoop:
    """Runs `Reconciler.sync` for dirty projects, all projects every `interval`, and retries with backoff."""

    def __init__(
        self,
        reconciler: Reconciler,
        database: Database,
        *,
        interval: float = DRIFT_INTERVAL,
        round_lock: AdvisoryLock | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._database = database
        self._interval = interval
        self._round_lock = round_lock
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()
        self._full: set[str] = set()
        self._last_full = -math.inf
        """When the last full round (every project, everything LiveKit holds) started (monotonic)."""
        self._gone: dict[str, list[Gone]] = {}
        self._everything = True
        self._idle = asyncio.Event()
        self.failures = 0

    def poke(self, project_ids: set[str] | None = None, *, full: bool = False) -> None:
        """Sync these projects (None: all, fully) soon: only what changed unless `full`."""
        if project_ids is None:
            self._everything = True
        else:
            self._dirty.update(project_ids)
            if full:
                self._full.update(project_ids)
        self._idle.clear()
        self._wake.set()

    def changed(self, touched: Touched) -> None:
        """A commit changed these projects (and deleted these LiveKit objects' Trunkline sides)."""
        for project_id, gone in touched.gone.items():
            self._gone.setdefault(project_id, []).extend(gone)
        self._full.update(touched.full)
        self.poke(set(touched.projects))

    async def settled(self) -> None:
        """Wait until every change seen so far has been synced (or has failed and waits for a retry)."""
        await self._idle.wait()

    async def run(self) -> None:
        delay = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            await asyncio.sleep(DEBOUNCE)
            self._wake.clear()
            drift_due = time.monotonic() - self._last_full >= self._interval
            if drift_due or not (self._dirty or self._everything):
                self._everything = True  # the drift check (or a retry with nothing particular to do)
            try:
                healthy = await self._turn()
            except Exception:  # the loop must survive anything one run does; the next run retries
                logger.exception("LiveKit sync run failed")
                healthy = False
            if healthy is None:  # another replica is running a round; what this one has to do waits for it
                delay = BUSY_RETRY
                continue
            self.failures = 0 if healthy else self.failures + 1
            if not self._wake.is_set():
                self._idle.set()
            until_drift = max(0.0, self._interval - (time.monotonic() - self._last_full))
            delay = until_drift if healthy else min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))

    async def _turn(self) -> bool | None:
        """One round if this replica may run one now (None: another replica is running its own)."""
        if self._round_lock is None:
            return await self._once()
        async with self._round_lock.try_hold() as ours:
            return await self._once() if ours else None

    async def _once(self) -> bool:
        everything = self._everything
        if everything:
            self._last_full = time.monotonic()
            projects = [p.id for p in await sync_store.all_projects(self._database)]
            targets = set(projects) | self._dirty
        else:
            targets = set(self._dirty)
        self._everything = False
        self._dirty -= targets
        healthy = True
        for project_id in sorted(targets):
            full = everything or project_id in self._full
            self._full.discard(project_id)
            gone = self._gone.pop(project_id, [])
            report = await self._reconciler.sync(project_id, full=full, gone=gone)
            if report.status == "unreachable":
                healthy = False
                self._dirty.add(project_id)
                self._gone.setdefault(project_id, []).extend(gone)
                if full:
                    self._full.add(project_id)
        return healthy
