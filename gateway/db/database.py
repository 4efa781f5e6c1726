"""The database as one service: its engine and the one way to get a session (`Database.session()`).

Every user of the database asks this object for a session: request handlers through the `db` dependency (one
session per request, shared with the API key check), background work and the call store directly. On SQLite the
engine keeps one connection (see `gateway.db.engine`), so a task that holds a transaction while waiting for another
unit of work would wait for itself; `holds_transaction()` tells such code, and the call store refuses to start
while the current task holds one (an error at once instead of a stall).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.engine import create_engine, engine_for
from gateway.settings import Settings

_current: ContextVar[tuple[asyncio.Task[Any] | None, AsyncSession] | None] = ContextVar(
    "trunkline_session", default=None
)
"""The session the current task opened. Tasks spawned meanwhile inherit the variable but not the session: the
task is kept with it, so they can tell (`holds_transaction`)."""


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def for_settings(cls, settings: Settings, **engine_options: Any) -> Database:
        """The settings' database, with the keys its secret columns and audit chain need (the gateway, the CLI)."""
        return cls(engine_for(settings, **engine_options))

    @classmethod
    def at(cls, url: str, **engine_options: Any) -> Database:
        """A database without secret keys: enough for everything but secret columns and audit records."""
        return cls(create_engine(url, **engine_options))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work (a request, a background job); closed (rolled back if uncommitted) on
        exit. Commit before calling out to anything slow: a transaction holds the connection until it ends."""
        session = self._sessions()
        token = _current.set((asyncio.current_task(), session))
        try:
            yield session
        finally:
            _current.reset(token)
            await session.close()

    @staticmethod
    def holds_transaction() -> bool:
        """Whether the current task has a session with an open transaction (`session()` above)."""
        current = _current.get()
        if current is None:
            return False
        task, session = current
        return task is asyncio.current_task() and session.in_transaction()

    async def dispose(self) -> None:
        await self.engine.dispose()
