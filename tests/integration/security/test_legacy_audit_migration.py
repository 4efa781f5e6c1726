"""A database with an unkeyed audit chain (before migration 0003) upgrades: the chain still verifies, its records
are reported as legacy, and deleting the project keeps them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.db.engine import create_engine
from gateway.db.migrate import alembic_config, upgrade
from gateway.db.types import UTCDateTime
from gateway.settings import Settings, load_settings
from tests.conftest import ENGINES, key_env, run_db
from tests.support.postgres import Cluster

pytestmark = pytest.mark.db

AT = datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = f"old_{uuid.uuid4().hex[:12]}"
    cluster.psql(f"CREATE DATABASE {name}")
    return cluster.url(name)


def _old_digest(project_id: str, seq: int, action: str, prev: str) -> str:
    """What versions before 0003 stored: unkeyed SHA-256 over the record (gateway.audit.record_digest then)."""
    body = json.dumps(
        [project_id, seq, "2026-11-01T10:00:00+00:00", "system", action, "project", project_id, None, None, None,
         None, prev],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )  # fmt: skip
    return hashlib.sha256(body.encode()).hexdigest()


def _at_revision_0002_with_an_unkeyed_chain(url: str) -> None:
    def build(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO projects (id, slug, name, default_region, settings, created_at, updated_at) "
                "VALUES ('prj_old', 'old', 'Old', 'US', '{}', :at, :at)"
            ).bindparams(bindparam("at", type_=UTCDateTime())),
            {"at": AT},
        )
        prev = audit.GENESIS
        for seq, action in enumerate(("project.create", "project.update"), start=1):
            digest = _old_digest("prj_old", seq, action, prev)
            connection.execute(
                text(
                    "INSERT INTO audit_logs (project_id, seq, at, actor, action, object_type, object_id, "
                    "prev_hash, hash) VALUES ('prj_old', :seq, :at, 'system', :action, 'project', 'prj_old', "
                    ":prev, :hash)"
                ).bindparams(bindparam("at", type_=UTCDateTime())),
                {"seq": seq, "at": AT, "action": action, "prev": prev, "hash": digest},
            )
            prev = digest
        connection.execute(
            text("INSERT INTO audit_heads (project_id, seq, hash) VALUES ('prj_old', 2, :hash)"),
            {"hash": prev},
        )

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(build)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_an_unkeyed_chain_verifies_as_legacy_after_the_upgrade_and_outlives_its_project(
    empty_database_url: str, tmp_path: Path
) -> None:
    _at_revision_0002_with_an_unkeyed_chain(empty_database_url)
    settings: Settings = load_settings(
        env={"DATABASE_URL": empty_database_url, **key_env(tmp_path)}, dotenv=None
    )

    async def migrate() -> None:
        engine = create_engine(empty_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())

    async def verify(session: AsyncSession) -> audit.ChainReport:
        return await audit.verify(session, "prj_old")

    report = run_db(settings, verify)
    assert report.ok, report
    assert (report.records, report.legacy_records) == (2, 2)

    async def append_then_delete_project(session: AsyncSession) -> audit.ChainReport:
        await audit.append(
            session,
            project_id="prj_old",
            actor=audit.Actor("test"),
            action="project.delete",
            object_type="project",
            object_id="prj_old",
        )
        await session.execute(text("DELETE FROM projects WHERE id = 'prj_old'"))
        await session.commit()
        return await audit.verify(session, "prj_old")

    after = run_db(settings, append_then_delete_project)
    assert after.ok, after
    assert (after.records, after.legacy_records, after.checkpoints) == (3, 2, 1)
