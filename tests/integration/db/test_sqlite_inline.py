"""The inline SQLite driver: lock waits and checkpoints happen without blocking the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.db.engine import create_engine
from gateway.db.sqlite_inline import Checkpointer, _is_busy, checkpoints, open_connection


async def _ticks_while(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """How many times another task got to run while `work` was pending."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.005)
        ticks += 1
    return ticks


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _locker(path: Path) -> sqlite3.Connection:
    """Another process's connection (a CLI command, a migration) holding the write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES ('other')")
    return other


def test_a_write_waits_for_another_connections_lock_while_the_loop_keeps_running(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    sqlite3.connect(path).executescript("PRAGMA journal_mode=WAL; CREATE TABLE t (x TEXT);")

    async def scenario() -> tuple[float, int, list[str]]:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        other = _locker(path)
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")

        async def write() -> object:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES ('ours')"))
            return None

        started = time.monotonic()
        task = asyncio.ensure_future(write())
        ticks = await _ticks_while(task)
        await task
        elapsed = time.monotonic() - started
        async with engine.connect() as connection:
            rows = [row[0] for row in await connection.execute(text("SELECT x FROM t ORDER BY rowid"))]
        await engine.dispose()
        other.close()
        return elapsed, ticks, rows

    elapsed, ticks, rows = asyncio.run(scenario())
    assert elapsed >= 0.28
    assert ticks >= 20, "the event loop was blocked while the write waited for the lock"
    assert rows == ["other", "ours"]


def test_a_lock_held_past_the_busy_timeout_fails_the_write_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    sqlite3.connect(path).executescript("PRAGMA journal_mode=WAL; CREATE TABLE t (x TEXT);")

    async def scenario() -> float:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        other = _locker(path)
        started = time.monotonic()
        try:
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                raw.driver_connection.busy_timeout = 0.2  # type: ignore[union-attr]
                with pytest.raises(Exception, match="database is locked"):
                    await connection.execute(text("INSERT INTO t VALUES ('ours')"))
            return time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
            await engine.dispose()

    elapsed = asyncio.run(scenario())
    assert 0.2 <= elapsed < 1.0
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_checkpoints_copy_the_wal_back_in_a_worker_thread(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    wal = Path(str(path) + "-wal")

    async def scenario() -> tuple[int, int, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
        checkpointer = Checkpointer(str(path), interval=0.1)
        checkpointer.start()
        for _ in range(50):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "x" * 4000})
        grown = _size(wal)
        await asyncio.sleep(0.6)
        ran = checkpointer.checkpoints
        assert (
            checkpointer.restarts == 0
        )  # a small WAL is only copied back: writers are never held off for it
        await checkpointer.stop()
        truncated = _size(wal)
        await engine.dispose()
        return grown, ran, truncated

    grown, ran, truncated = asyncio.run(scenario())
    assert grown > 50 * 4000  # automatic checkpoints are off on the serving connection
    assert ran >= 1
    assert truncated == 0  # the final checkpoint on stop truncates the WAL
    with sqlite3.connect(path) as fresh:
        assert fresh.execute("SELECT count(*) FROM t").fetchone() == (50,)


def test_in_memory_and_postgresql_urls_need_no_checkpointer() -> None:
    async def scenario() -> None:
        async with checkpoints(None) as checkpointer:
            assert checkpointer is None
        engine = create_engine("sqlite+aiosqlite:///:memory:")
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        await engine.dispose()

    asyncio.run(scenario())


def test_every_busy_code_but_a_stale_snapshot_is_waited_out() -> None:
    def error(code: int) -> sqlite3.OperationalError:
        failure = sqlite3.OperationalError("database is locked")
        failure.sqlite_errorcode = code  # type: ignore[attr-defined]
        return failure

    assert _is_busy(error(5))  # SQLITE_BUSY
    assert _is_busy(error(261))  # SQLITE_BUSY_RECOVERY: another connection is recovering the WAL
    assert not _is_busy(error(517))  # SQLITE_BUSY_SNAPSHOT: the transaction must start over
    assert not _is_busy(error(1))  # SQLITE_ERROR
    assert not _is_busy(sqlite3.OperationalError("no code"))


def test_under_sustained_writes_the_wal_still_starts_over(tmp_path: Path) -> None:
    """Writes that never pause leave a PASSIVE checkpoint no moment to catch up: without the RESTART step once the
    WAL passes `restart_at`, the WAL would hold every frame written during the load."""
    path = tmp_path / "sustained.db"
    wal = Path(str(path) + "-wal")
    sqlite3.connect(path).executescript("PRAGMA journal_mode=WAL; CREATE TABLE t (x TEXT);")
    stop = threading.Event()

    def write() -> int:
        connection = open_connection(str(path))
        connection.execute("PRAGMA busy_timeout=2000")  # this thread may block: it waits in SQLite's handler
        connection.execute("PRAGMA journal_size_limit=1048576")  # each time the WAL starts over it is trimmed
        commits = 0
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t VALUES ('x')")
            connection.execute("COMMIT")
            commits += 1
            time.sleep(0.0002)  # a busy server's gaps between transactions (a RESTART waits for one)
        connection.close()
        return commits

    async def scenario() -> tuple[int, int, int]:
        checkpointer = Checkpointer(str(path), interval=0.05, restart_at=256 << 10)
        checkpointer.start()
        writer = asyncio.ensure_future(asyncio.to_thread(write))
        await asyncio.sleep(0.5)
        stop.set()
        commits = await writer
        restarts = checkpointer.restarts
        size = _size(wal)
        await checkpointer.stop()
        return commits, restarts, size

    commits, restarts, size = asyncio.run(scenario())
    page = 4096 + 24
    assert restarts >= 5
    assert commits > 500
    assert size < commits * page / 2, f"the WAL grew to {size} bytes over {commits} commits"
    with sqlite3.connect(path) as fresh:
        assert fresh.execute("SELECT count(*) FROM t").fetchone() == (commits,)


def test_stop_waits_for_a_round_still_running_in_its_thread(tmp_path: Path) -> None:
    """Stopping while a round runs in its worker thread must not close the connection under it (a segfault in CI:
    the final checkpoint and the close raced the abandoned round on the same connection)."""
    path = tmp_path / "busy.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (v TEXT)")
    in_round = threading.Event()
    outcomes: list[str] = []

    class SlowRound(Checkpointer):
        def _round(self) -> None:
            try:
                self._checkpoint("PASSIVE")  # the round's connection is open from here on
                connection = self._connection
                assert connection is not None
                in_round.set()
                time.sleep(0.2)  # a long checkpoint: the round is still using its connection
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as error:
                outcomes.append(f"failed: {error}")
                raise
            outcomes.append("finished")

    async def scenario() -> None:
        checkpointer = SlowRound(str(path), interval=0.01)
        checkpointer.start()
        await asyncio.to_thread(in_round.wait, 5)
        await checkpointer.stop()

    asyncio.run(scenario())
    assert outcomes == ["finished"]
