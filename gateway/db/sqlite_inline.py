"""SQLite for SQLAlchemy's asyncio engine, run in the event loop's own thread.

SQLAlchemy's `sqlite+aiosqlite` dialect talks to aiosqlite, which runs every call (open a cursor, execute, fetch,
close it, commit...) on a worker thread and wakes the event loop when it is done. On these machines each of those
hand-offs costs ~70 us of CPU, a statement takes four of them, and one transaction eight or more: far more than
SQLite itself spends on the statements (a transaction inserting a row is ~80 us through SQLAlchemy's synchronous
driver, ~800 us through aiosqlite). The database is a local file and its statements take microseconds, so this
driver runs them directly, in the caller's thread, behind the same interface (`connect` is given to
`create_async_engine(async_creator=...)`; the dialect, its types and its errors are aiosqlite's, which are
sqlite3's).

What would block the event loop for long is handled here instead of inside SQLite:

- Lock waits: SQLite's own busy timeout would sleep inside the call. It is 0 here; a statement that finds the
  database locked by another process (a CLI command, a migration) is retried with `asyncio.sleep` back-off until
  `busy_timeout` has passed, so the gateway keeps serving meanwhile.
- WAL checkpoints: automatic checkpoints (copying the WAL back into the database file and syncing it) would run
  inside a commit. They are off on the serving connection; `Checkpointer` runs them on its own connection in a
  worker thread (`PRAGMA wal_checkpoint(PASSIVE)` never blocks writers).

Statements that scan a lot (an audit chain check) do hold the loop while they run; with SQLite's single writer
connection they held every other database user anyway.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger("trunkline.db.sqlite")

SQLITE_BUSY = 5
"""The primary result code of a lock conflict; Python reports extended codes (BUSY_RECOVERY is 261, ...)."""
SQLITE_BUSY_SNAPSHOT = 517
"""A read transaction's snapshot went stale before it wrote: waiting cannot help, the transaction must restart."""
WAL_SIZE_LIMIT = 64 << 20
"""Bytes the WAL file keeps once checkpointed and reset (it is truncated to this); it may grow past it meanwhile."""
FIRST_BACKOFF = 0.001
MAX_BACKOFF = 0.01
RESTART_AT = 64 << 20
"""WAL size at which a checkpoint makes it start over (see `Checkpointer`): at 2,000 calls a second, every two or
three seconds."""
WAL_FRAME_HEADER = 24
CHECKPOINT_TIMEOUT = 5.0
"""Longest the checkpointer's own connection waits for a lock (except for a RESTART's, see `RESTART_WAIT`)."""
RESTART_WAIT = 0.02
"""Longest a checkpoint holds writers off waiting for readers, to let the WAL start over (see `Checkpointer`)."""
QUICK_PASS = 0.005
"""A PASSIVE checkpoint this quick left little behind: the RESTART that follows it holds writers off briefly."""
MAX_PASSES = 5

T = TypeVar("T")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """A lock held elsewhere, worth waiting for: SQLITE_BUSY or an extended form of it other than BUSY_SNAPSHOT."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY and code != SQLITE_BUSY_SNAPSHOT


class InlineConnection:
    """The part of aiosqlite's `Connection` that SQLAlchemy's aiosqlite dialect uses, without the worker thread."""

    def __init__(self, connection: sqlite3.Connection, *, busy_timeout: float) -> None:
        self._connection: sqlite3.Connection | None = connection
        """Named as aiosqlite names it: SQLAlchemy checks it to tell an open connection from a closed one."""
        self.busy_timeout = busy_timeout

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def _retrying(self, call: Callable[[], T]) -> T:
        """Run `call`; while another process holds the lock, wait (without blocking the loop) and try again."""
        deadline: float | None = None
        backoff = FIRST_BACKOFF
        while True:
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.busy_timeout
                if now >= deadline:
                    raise
                await asyncio.sleep(min(backoff, deadline - now))
                backoff = min(backoff * 2, MAX_BACKOFF)

    def begin(self) -> None:
        """Start a (deferred) transaction: it takes no lock yet, so it never waits for one."""
        self._conn.execute("BEGIN")

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows in the current transaction, errors raised as SQLAlchemy's (an
        `IntegrityError` for a unique key...) without the rows' values (numbers are personal data), as the engine
        would: for the bulk writers, which skip SQLAlchemy's per-execution work (`gateway.db.bulk`)."""
        connection = self._conn
        try:
            await self._retrying(lambda: connection.executemany(sql, rows))
        except sqlite3.Error as error:
            raise DBAPIError.instance(sql, rows, error, sqlite3.Error, hide_parameters=True) from error

    def cursor(self) -> _CursorOpening:
        return _CursorOpening(InlineCursor(self, self._conn.cursor()))

    async def commit(self) -> None:
        await self._retrying(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close now (aiosqlite's name; SQLAlchemy calls it to terminate a connection)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], **kw: Any) -> None:
        self._conn.create_function(name, num_params, func, **kw)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


class InlineCursor:
    """aiosqlite's `Cursor` interface over a sqlite3 cursor, run inline."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> InlineCursor:
        cursor = self._cursor
        args = () if parameters is None else parameters
        await self._connection._retrying(lambda: cursor.execute(sql, args))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        cursor = self._cursor
        rows = parameters if isinstance(parameters, list) else list(parameters)
        await self._connection._retrying(lambda: cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _CursorOpening:
    """What `cursor()` returns in aiosqlite: awaitable, and an async context manager (SQLAlchemy enters it)."""

    def __init__(self, cursor: InlineCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, InlineCursor]:
        return self._cursor.__aenter__().__await__()

    async def __aenter__(self) -> InlineCursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


def open_connection(database: str, *, uri: bool = False) -> sqlite3.Connection:
    """A serving connection: WAL, foreign keys, no automatic checkpoints, no busy wait, no implicit BEGIN.

    SQLAlchemy issues BEGIN itself (see `gateway.db.engine`): the driver's implicit transactions ignore SAVEPOINTs.
    """
    connection = sqlite3.connect(
        database, uri=uri, timeout=0, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "synchronous=NORMAL",
        "wal_autocheckpoint=0",
        f"journal_size_limit={WAL_SIZE_LIMIT}",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def connector(database: str, *, uri: bool = False, busy_timeout: float = 5.0) -> Callable[[], Any]:
    """`async_creator` for `create_async_engine`: each call opens one inline connection."""

    async def connect() -> InlineConnection:
        started = time.monotonic()
        while True:
            try:
                return InlineConnection(open_connection(database, uri=uri), busy_timeout=busy_timeout)
            except sqlite3.OperationalError as error:  # switching to WAL needs the lock once
                if not _is_busy(error) or time.monotonic() - started > busy_timeout:
                    raise
                await asyncio.sleep(0.01)

    return connect


class Checkpointer:
    """Copies the WAL back into the database file every `interval` seconds, from a worker thread, on its own
    connection, and makes the next write start the WAL over; on stop, a final one that also truncates the WAL.

    A PASSIVE checkpoint alone never lets the WAL start over while writes keep coming: it copies the frames
    committed when it began, and the next writer may go back to the start of the file only when every frame is
    copied. Under sustained load the WAL then grows for as long as the load lasts (hundreds of megabytes a
    minute at a couple of thousand calls a second), and every commit appends to an ever longer file and index.
    So once the WAL holds `restart_at` bytes, a round copies without blocking anyone (PASSIVE) until a pass leaves
    little behind, then finishes with a RESTART checkpoint. That one holds writers off (they wait without
    blocking the loop, see `InlineConnection`) while it copies the last frames and syncs the database file, tens
    of milliseconds on a slow disk, which is why it is not done every round; and for at most `restart_wait`
    seconds more while a reader still needs the old frames, after which it gives up until the next round. Once
    the WAL has started over, the serving connections' `journal_size_limit` trims the file."""

    def __init__(
        self,
        database: str,
        *,
        interval: float = 1.0,
        restart_at: int = RESTART_AT,
        restart_wait: float = RESTART_WAIT,
    ) -> None:
        self.database = database
        self.interval = interval
        self.restart_at = restart_at
        self.restart_wait = restart_wait
        self._task: asyncio.Task[None] | None = None
        self._round_running: asyncio.Future[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self._frame_bytes = 0
        self.checkpoints = 0
        self.restarts = 0

    def _checkpoint(self, mode: str) -> tuple[bool, int]:
        """One checkpoint: whether it finished (for RESTART and TRUNCATE: the WAL starts over), and the WAL's
        size in bytes when it began."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self.database, timeout=CHECKPOINT_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            self._frame_bytes = self._connection.execute("PRAGMA page_size").fetchone()[0] + WAL_FRAME_HEADER
        busy, frames, _ = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        self.checkpoints += 1
        return not busy, max(frames, 0) * self._frame_bytes

    def _round(self) -> None:
        _, wal_bytes = self._checkpoint("PASSIVE")
        if wal_bytes < self.restart_at:
            return
        for _ in range(MAX_PASSES):
            started = time.monotonic()
            self._checkpoint("PASSIVE")
            if time.monotonic() - started < QUICK_PASS:
                break
        assert self._connection is not None
        self._connection.execute(f"PRAGMA busy_timeout={int(self.restart_wait * 1000)}")
        try:
            if self._checkpoint("RESTART")[0]:
                self.restarts += 1
        finally:
            self._connection.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_TIMEOUT * 1000)}")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sqlite-checkpointer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            # Shielded: cancelling the task must not abandon a round still running in its thread, which `stop`
            # waits for before using (and closing) the same connection.
            self._round_running = asyncio.get_running_loop().run_in_executor(None, self._round)
            try:
                await asyncio.shield(self._round_running)
            except sqlite3.Error as error:
                log.warning("WAL checkpoint failed: %s", error)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._round_running is not None:
            with suppress(sqlite3.Error):
                await self._round_running
            self._round_running = None
        try:
            await asyncio.to_thread(self._checkpoint, "TRUNCATE")
        except sqlite3.Error as error:
            log.warning("final WAL checkpoint failed: %s", error)
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@asynccontextmanager
async def checkpoints(database: str | None) -> AsyncIterator[Checkpointer | None]:
    """A running `Checkpointer` for a SQLite database file (None: nothing to do, e.g. PostgreSQL)."""
    if database is None:
        yield None
        return
    checkpointer = Checkpointer(database)
    checkpointer.start()
    try:
        yield checkpointer
    finally:
        await checkpointer.stop()
