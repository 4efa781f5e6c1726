"""Audit records for every change, a verifiable hash chain, and secrets that never come back out."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import AuditLog
from gateway.settings import Settings
from tests.conftest import Api, env_of, run_db

SECRETS = ["trunk-pass-123", "twilio-token-xyz", "livekit-secret-abc"]


def test_every_change_is_audited_with_actor_request_and_diff(api: Api) -> None:
    agent = api.create("/v1/agents", {"name": "a", "instructions": "one"})
    api.patch(f"/v1/agents/{agent['id']}", json={"instructions": "two"}, headers={"X-Request-Id": "req-42"})
    api.delete(f"/v1/agents/{agent['id']}")
    records = api.get("/v1/audit-logs", params={"object_id": agent["id"]}).json()["items"]
    assert [r["action"] for r in records] == ["agent.create", "agent.update", "agent.delete"]
    update_record = records[1]
    assert update_record["before"]["instructions"] == "one"
    assert update_record["after"]["instructions"] == "two"
    assert update_record["request_id"] == "req-42"
    assert update_record["actor"].startswith("key_")
    assert update_record["source_ip"]
    records = len(api.get("/v1/audit-logs", params={"limit": 200}).json()["items"])
    assert api.get("/v1/audit-logs/verify").json() == {
        "ok": True,
        "records": records,
        "first_bad_seq": None,
        "problem": None,
        "legacy_records": 0,
        "checkpoints": records + 1,  # one per change, and the head published at start-up
    }


@pytest.mark.parametrize("tamper", ["content", "delete"])
def test_tampering_breaks_the_chain(api: Api, settings: Settings, tamper: str) -> None:
    for name in ("a", "b", "c"):
        api.create("/v1/agents", {"name": name})

    async def change(session: AsyncSession) -> None:
        if tamper == "content":
            await session.execute(update(AuditLog).where(AuditLog.seq == 3).values(actor="key_someone_else"))
        else:
            await session.execute(text("DELETE FROM audit_logs WHERE seq = 2"))
        await session.commit()

    run_db(settings, change)
    report = api.get("/v1/audit-logs/verify").json()
    assert report["ok"] is False
    assert report["first_bad_seq"] in {2, 3}
    cli = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify", "--project", "default"],
        env=env_of(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "BROKEN" in cli.stdout


def test_secrets_are_write_only(api: Api, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    trunk = api.create(
        "/v1/trunks", {"direction": "inbound", "name": "t", "auth_username": "u", "auth_password": SECRETS[0]}
    )
    project = api.get("/v1/projects").json()["items"][0]
    patched = api.patch(
        f"/v1/projects/{project['id']}",
        json={
            "twilio_account_sid": "AC" + "a" * 32,
            "twilio_auth_token": SECRETS[1],
            "livekit_url": "https://lk.example.com",
            "livekit_api_key": "APIkey",
            "livekit_api_secret": SECRETS[2],
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["twilio_auth_token_set"] is True
    seen = [
        api.get(f"/v1/trunks/{trunk['id']}").text,
        api.get("/v1/trunks").text,
        patched.text,
        api.get(f"/v1/projects/{project['id']}").text,
        api.get("/v1/audit-logs", params={"limit": 200}).text,
        caplog.text,
    ]

    async def raw_audit(session: AsyncSession) -> str:
        rows = (await session.execute(text("SELECT before, after FROM audit_logs"))).all()
        return repr(rows)

    seen.append(run_db(settings, raw_audit))
    for blob in seen:
        for secret in SECRETS:
            assert secret not in blob
