"""Replicas on one PostgreSQL database: started together they migrate one after the other, and their LiveKit sync
loops take turns (one round at a time)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gateway.bootstrap import ensure_default_project
from gateway.db.database import Database
from gateway.db.engine import create_engine
from gateway.db.locks import AdvisoryLock
from gateway.db.migrate import upgrade
from gateway.livekit.clients import LiveKitClients
from gateway.livekit.reconciler import Reconciler, SyncReport
from gateway.livekit.sync_loop import ROUND_LOCK, SyncLoop
from gateway.livekit.sync_scope import Gone
from gateway.settings import load_settings
from tests.conftest import key_env
from tests.support.livekit_standin import StandInThread
from tests.support.postgres import Cluster

pytestmark = pytest.mark.db


@pytest.fixture
def fresh_database(pg_cluster: Cluster) -> str:
    """An empty PostgreSQL database: no tables, no alembic_version."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    return pg_cluster.url(name)


def test_replicas_starting_together_on_a_fresh_database_all_migrate(fresh_database: str) -> None:
    async def start_replicas() -> list[bool]:
        engines = [create_engine(fresh_database) for _ in range(4)]
        try:
            return list(await asyncio.gather(*(upgrade(engine) for engine in engines)))
        finally:
            for engine in engines:
                await engine.dispose()

    applied = asyncio.run(start_replicas())
    assert sorted(applied) == [
        False,
        False,
        False,
        True,
    ]  # one migrated; the others found the database at head


class TimedReconciler(Reconciler):
    """The real reconciler, noting how many rounds of all replicas run at once."""

    running = 0
    most_at_once = 0
    rounds = 0

    async def sync(
        self, project_id: str, *, dry_run: bool = False, full: bool = True, gone: Sequence[Gone] = ()
    ) -> SyncReport:
        cls = TimedReconciler
        cls.running += 1
        cls.rounds += 1
        cls.most_at_once = max(cls.most_at_once, cls.running)
        try:
            await asyncio.sleep(0.02)  # a LiveKit round trip's worth: rounds that could overlap, would
            return await super().sync(project_id, dry_run=dry_run, full=full, gone=gone)
        finally:
            cls.running -= 1


@pytest.fixture
def livekit() -> Iterator[StandInThread]:
    standin = StandInThread().start()
    try:
        yield standin
    finally:
        standin.stop()


def test_two_replicas_sync_loops_never_run_a_round_at_once(
    fresh_database: str, livekit: StandInThread, tmp_path: Path
) -> None:
    settings = load_settings(
        env={
            "DATABASE_URL": fresh_database,
            "TRUNKLINE_FLOWS_DIR": str(tmp_path),
            "LIVEKIT_URL": livekit.url,
            "LIVEKIT_API_KEY": livekit.api_key,
            "LIVEKIT_API_SECRET": livekit.api_secret,
            **key_env(tmp_path),
        },
        dotenv=None,
    )

    async def two_replicas() -> None:
        replicas = [Database.for_settings(settings) for _ in range(2)]
        await upgrade(replicas[0].engine)
        async with replicas[0].session() as session:
            await ensure_default_project(session, settings)
            await session.commit()
        loops, clients = [], []
        for database in replicas:
            clients.append(LiveKitClients(settings))
            reconciler = TimedReconciler(database, clients[-1])
            lock = AdvisoryLock(database.engine, ROUND_LOCK)
            loops.append(SyncLoop(reconciler, database, round_lock=lock))
        tasks = [asyncio.create_task(loop.run()) for loop in loops]
        try:
            for _ in range(30):
                for loop in loops:
                    loop.poke()
                await asyncio.sleep(0.03)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in clients:
                await client.aclose()
            for database in replicas:
                await database.dispose()

    asyncio.run(two_replicas())
    assert TimedReconciler.rounds >= 5
    assert TimedReconciler.most_at_once == 1
