"""Work one replica at a time: PostgreSQL advisory locks, named. On SQLite (one process, one file lock) no-ops.

`hold_for_transaction` waits for the lock until the transaction ends (migrations); `try_hold` takes it for a
block if no one else has it, on a connection of its own outside any transaction (so it may span calls to the
outside world), and says whether it did (periodic jobs: a replica that does not get it skips its turn).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def hold_for_transaction(connection: AsyncConnection, name: str) -> None:
    """Wait for the lock `name`; it is released when `connection`'s transaction ends."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


class AdvisoryLock:
    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self._engine = engine
        self._key = lock_key(name)
        self.name = name

    @asynccontextmanager
    async def try_hold(self) -> AsyncIterator[bool]:
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        async with self._engine.connect() as connection:
            taken = bool(
                (
                    await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})
                ).scalar()
            )
            await connection.commit()  # a session lock: it outlives the transaction, which must not stay open
            try:
                yield taken
            finally:
                if taken:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                    await connection.commit()
