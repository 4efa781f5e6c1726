"""The audit chain cannot be forged: keyed links, checkpoints outside the database, trails outliving projects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.audit import GENESIS, record_digest
from gateway.db.models import AuditHead, AuditLog
from gateway.settings import Settings
from tests.conftest import Api, env_of, run_db

pytestmark = pytest.mark.db


def _cli_verify(settings: Settings, *project: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify", *(("--project", *project) if project else ())],
        env=env_of(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _project_id(api: Api) -> str:
    project_id: str = api.get("/v1/projects").json()["items"][0]["id"]
    return project_id


def _agents(api: Api, *names: str) -> None:
    for name in names:
        api.create("/v1/agents", {"name": name})


def _assert_broken(api: Api, settings: Settings, problem: str) -> None:
    report = api.get("/v1/audit-logs/verify").json()
    assert report["ok"] is False, report
    assert problem in report["problem"]
    cli = _cli_verify(settings, "default")
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "BROKEN" in cli.stdout
    assert problem in cli.stdout


def test_an_untouched_chain_verifies(api: Api, settings: Settings) -> None:
    _agents(api, "a", "b")
    report = api.get("/v1/audit-logs/verify").json()
    assert report["ok"] is True, report
    assert report["checkpoints"] >= report["records"] >= 3
    cli = _cli_verify(settings)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "(default)" in cli.stdout
    lines = Path(settings.audit_checkpoints).read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["project_id"] == _project_id(api)
    assert last["seq"] == report["records"]


def test_deleting_the_last_record_and_rolling_back_the_head_is_detected(api: Api, settings: Settings) -> None:
    _agents(api, "a", "b", "c")
    project_id = _project_id(api)

    async def truncate(session: AsyncSession) -> None:
        last = await session.scalar(
            select(AuditLog).where(AuditLog.project_id == project_id).order_by(AuditLog.seq.desc()).limit(1)
        )
        assert last is not None
        await session.execute(
            update(AuditHead)
            .where(AuditHead.project_id == project_id)
            .values(seq=last.seq - 1, hash=last.prev_hash)
        )
        await session.delete(last)
        await session.commit()

    run_db(settings, truncate)
    _assert_broken(api, settings, "records missing at the end")


def test_truncating_then_appending_again_is_detected(api: Api, settings: Settings) -> None:
    _agents(api, "a", "b")
    project_id = _project_id(api)

    async def truncate(session: AsyncSession) -> None:
        last = await session.scalar(
            select(AuditLog).where(AuditLog.project_id == project_id).order_by(AuditLog.seq.desc()).limit(1)
        )
        assert last is not None
        await session.execute(
            update(AuditHead)
            .where(AuditHead.project_id == project_id)
            .values(seq=last.seq - 1, hash=last.prev_hash)
        )
        await session.delete(last)
        await session.commit()

    run_db(settings, truncate)
    _agents(api, "c")  # the gateway writes a new, validly keyed record where the deleted one was
    _assert_broken(api, settings, "differs from its published checkpoint")


def test_rewriting_a_record_and_recomputing_the_unkeyed_chain_is_detected(
    api: Api, settings: Settings
) -> None:
    _agents(api, "a", "b", "c")
    project_id = _project_id(api)

    async def rewrite(session: AsyncSession) -> None:
        rows = (
            await session.scalars(
                select(AuditLog).where(AuditLog.project_id == project_id).order_by(AuditLog.seq)
            )
        ).all()
        rows[1].actor = "key_someone_else"
        prev = GENESIS
        for row in rows:  # what a forger without the key can do: a consistent SHA-256 chain
            row.prev_hash = prev
            row.hash = record_digest(row, None)
            prev = row.hash
        await session.execute(update(AuditHead).where(AuditHead.project_id == project_id).values(hash=prev))
        await session.commit()

    run_db(settings, rewrite)
    _assert_broken(api, settings, "content changed")


def test_a_deleted_projects_trail_is_kept_and_verifiable(api: Api, settings: Settings) -> None:
    created = api.create("/v1/projects", {"slug": "acme", "name": "Acme"})
    tenant = api.as_(created["admin_key"])
    tenant.create("/v1/agents", {"name": "x"})
    project_id = created["project"]["id"]
    assert api.delete(f"/v1/projects/{project_id}").status_code == 204

    async def count(session: AsyncSession) -> int:
        return len((await session.scalars(select(AuditLog).where(AuditLog.project_id == project_id))).all())

    assert run_db(settings, count) == 3  # api_key.create, agent.create, project.delete
    cli = _cli_verify(settings, project_id)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"{project_id} (deleted project): 3 records" in cli.stdout
    assert "ok" in cli.stdout
    assert _cli_verify(settings).returncode == 0


def test_a_legacy_unkeyed_chain_still_verifies_and_its_boundary_cannot_move(
    api: Api, settings: Settings
) -> None:
    """Records from before the keyed chain (migration 0003 sets legacy_seq) verify with the unkeyed hash."""
    _agents(api, "a", "b", "c")
    project_id = _project_id(api)
    checkpoints = Path(settings.audit_checkpoints)
    checkpoints.unlink()  # as if the chain had been written before checkpoints existed

    async def make_legacy(session: AsyncSession) -> int:
        rows = (
            await session.scalars(
                select(AuditLog).where(AuditLog.project_id == project_id).order_by(AuditLog.seq)
            )
        ).all()
        prev = GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = record_digest(row, None)
            prev = row.hash
        await session.execute(
            update(AuditHead)
            .where(AuditHead.project_id == project_id)
            .values(hash=prev, legacy_seq=len(rows))
        )
        await session.commit()
        return len(rows)

    legacy = run_db(settings, make_legacy)
    _agents(api, "d")  # the next record is keyed, linked to the legacy head
    report = api.get("/v1/audit-logs/verify").json()
    assert report["ok"] is True, report
    assert report["legacy_records"] == legacy
    assert report["records"] == legacy + 1

    async def widen(session: AsyncSession) -> None:
        await session.execute(text("UPDATE audit_heads SET legacy_seq = legacy_seq + 1"))
        await session.commit()

    run_db(settings, widen)
    _assert_broken(api, settings, "legacy boundary moved")


def test_a_checkpoint_is_published_only_when_its_change_commits(api: Api, settings: Settings) -> None:
    project_id = _project_id(api)
    path = Path(settings.audit_checkpoints)

    async def append(session: AsyncSession, *, commit: bool) -> None:
        await audit.append(
            session,
            project_id=project_id,
            actor=audit.Actor("test"),
            action="x",
            object_type="x",
            object_id="x",
        )
        await (session.commit() if commit else session.rollback())

    before = path.read_text()
    run_db(settings, lambda session: append(session, commit=False))
    assert path.read_text() == before
    run_db(settings, lambda session: append(session, commit=True))
    published = path.read_text()[len(before) :].splitlines()
    assert len(published) == 1
    assert json.loads(published[0])["project_id"] == project_id
    assert api.get("/v1/audit-logs/verify").json()["ok"] is True


def test_a_chain_deleted_altogether_is_reported(api: Api, settings: Settings) -> None:
    _agents(api, "a")
    project_id = _project_id(api)

    async def wipe(session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM audit_logs"))
        await session.execute(text("DELETE FROM audit_heads"))
        await session.commit()

    run_db(settings, wipe)
    cli = _cli_verify(settings)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert f"{project_id} (default): 0 records" in cli.stdout
    assert "records missing at the end" in cli.stdout
