"""Secrets are stored encrypted with a key outside the database; legacy plain values are migrated; rotation."""

from __future__ import annotations

import dataclasses
import logging
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.db.models import Project, Trunk, WebhookSubscription
from gateway.security.keyring import Keyring, new_key
from gateway.settings import Settings, load_settings
from tests.conftest import Api, env_of, key_env, run_db

pytestmark = pytest.mark.db

TOKEN, LK_SECRET, PASSWORD, HOOK_SECRET = "twilio-token-xyz", "livekit-secret-abc", "trunk-pass-123", "h" * 20
RAW = """
    SELECT p.twilio_auth_token, p.livekit_api_secret, t.auth_password, w.secret
    FROM projects p, trunks t, webhook_subscriptions w WHERE p.slug = 'default'
"""


def _store_secrets(api: Api) -> dict[str, str]:
    project = api.get("/v1/projects").json()["items"][0]
    changed = api.patch(
        f"/v1/projects/{project['id']}",
        json={
            "twilio_account_sid": "AC" + "a" * 32,
            "twilio_auth_token": TOKEN,
            "livekit_api_secret": LK_SECRET,
        },
    )
    assert changed.status_code == 200, changed.text
    trunk = api.create(
        "/v1/trunks", {"direction": "inbound", "name": "t", "auth_username": "u", "auth_password": PASSWORD}
    )
    hook = api.create(
        "/v1/webhooks", {"url": "https://93.184.215.14/hook", "events": ["call.ended"], "secret": HOOK_SECRET}
    )
    return {"project": project["id"], "trunk": trunk["id"], "webhook": hook["id"]}


def _raw(settings: Settings) -> tuple[str, ...]:
    async def read(session: AsyncSession) -> tuple[str, ...]:
        return tuple((await session.execute(text(RAW))).one())

    result: tuple[str, ...] = run_db(settings, read)
    return result


def _decrypted(settings: Settings, ids: dict[str, str]) -> tuple[str | None, ...]:
    async def read(session: AsyncSession) -> tuple[str | None, ...]:
        project = await session.get(Project, ids["project"])
        trunk = await session.get(Trunk, ids["trunk"])
        hook = await session.get(WebhookSubscription, ids["webhook"])
        assert project is not None
        assert trunk is not None
        assert hook is not None
        return project.twilio_auth_token, project.livekit_api_secret, trunk.auth_password, hook.secret

    result: tuple[str | None, ...] = run_db(settings, read)
    return result


def _restart(settings: Settings) -> None:
    with TestClient(create_app(settings, configure_logs=False)):
        pass


def test_secrets_are_encrypted_in_the_database_and_read_back(api: Api, settings: Settings) -> None:
    ids = _store_secrets(api)
    raw = _raw(settings)
    for stored, secret in zip(raw, (TOKEN, LK_SECRET, PASSWORD, HOOK_SECRET), strict=True):
        assert stored.startswith("fernet:")
        assert secret not in stored
    assert _decrypted(settings, ids) == (TOKEN, LK_SECRET, PASSWORD, HOOK_SECRET)
    project = api.get(f"/v1/projects/{ids['project']}").json()
    assert project["twilio_auth_token_set"] is True
    assert project["livekit_api_secret_set"] is True
    assert Path(settings.secret_key_file).read_text().strip() not in repr(raw)


def test_plain_legacy_values_are_encrypted_at_the_next_start(
    client: TestClient[Any], settings: Settings
) -> None:
    ids = _store_secrets(Api(client, client.app.state.first_run_key.token))

    async def write_plain(session: AsyncSession) -> None:
        await session.execute(text("UPDATE projects SET twilio_auth_token = 'legacy-token-1'"))
        await session.execute(text("UPDATE trunks SET auth_password = 'legacy-pass-1'"))
        await session.commit()

    run_db(settings, write_plain)
    assert _decrypted(settings, ids)[::2] == ("legacy-token-1", "legacy-pass-1")  # read as they are
    _restart(settings)
    raw = _raw(settings)
    assert all(value.startswith("fernet:") for value in raw)
    assert _decrypted(settings, ids) == ("legacy-token-1", LK_SECRET, "legacy-pass-1", HOOK_SECRET)


def _rotate(settings: Settings, *flags: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "secrets", "rotate", *flags],
        env=env_of(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rotation_re_encrypts_every_secret_with_a_new_key_then_retires_the_old_one(
    api: Api, settings: Settings
) -> None:
    ids = _store_secrets(api)
    old_key = Path(settings.secret_key_file).read_text().strip()
    before = _raw(settings)
    assert "re-encrypted 4 secrets with a new key" in _rotate(settings)
    keys = Path(settings.secret_key_file).read_text().split()
    assert keys[1:] == [old_key]  # kept to decrypt until --finish
    assert keys[0] != old_key
    after = _raw(settings)
    assert all(a != b and a.startswith("fernet:") for a, b in zip(after, before, strict=True))
    only_new = dataclasses.replace(settings, secret_key=keys[0])
    assert _decrypted(only_new, ids) == (TOKEN, LK_SECRET, PASSWORD, HOOK_SECRET)

    # A gateway still running with the old key writes a secret under it before it is restarted ...
    async def written_by_old_gateway(session: AsyncSession) -> None:
        stored = Keyring([old_key], "the old key file").encrypt("p2")
        await session.execute(text("UPDATE trunks SET auth_password = :stored"), {"stored": stored})
        await session.commit()

    run_db(settings, written_by_old_gateway)
    assert "old keys are gone" in _rotate(settings, "--finish")
    assert Path(settings.secret_key_file).read_text().split() == [keys[0]]
    assert _decrypted(only_new, ids) == (TOKEN, LK_SECRET, "p2", HOOK_SECRET)  # ... and --finish caught it


def test_a_key_from_the_environment_is_used_and_no_key_file_is_written(
    database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, **key_env(tmp_path), "TRUNKLINE_SECRET_KEY": new_key()}
    settings = load_settings(env=env, dotenv=None)
    with TestClient(create_app(settings, configure_logs=False)) as client:
        ids = _store_secrets(Api(client, client.app.state.first_run_key.token))
    assert not Path(settings.secret_key_file).exists()
    assert _decrypted(settings, ids)[0] == TOKEN
    wrong = load_settings(env={**env, "TRUNKLINE_SECRET_KEY": new_key()}, dotenv=None)
    with pytest.raises(Exception, match="cannot be decrypted"):
        _decrypted(wrong, ids)


def test_clearing_a_secret_with_null_clears_it(api: Api, settings: Settings) -> None:
    ids = _store_secrets(api)
    cleared = api.patch(f"/v1/projects/{ids['project']}", json={"livekit_api_secret": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["livekit_api_secret_set"] is False
    assert cleared.json()["twilio_auth_token_set"] is True
    assert api.get(f"/v1/projects/{ids['project']}").json()["livekit_api_secret_set"] is False
    assert _decrypted(settings, ids)[:2] == (TOKEN, None)
    last = api.get("/v1/audit-logs", params={"action": "project.update", "limit": 200}).json()["items"][-1]
    assert last["after"]["livekit_api_secret"] is None


def test_secrets_too_long_for_their_encrypted_column_are_refused(api: Api) -> None:
    project = api.get("/v1/projects").json()["items"][0]
    refused = api.patch(f"/v1/projects/{project['id']}", json={"twilio_auth_token": "t" * 65})
    assert refused.status_code in (400, 422), refused.text
    assert "twilio_auth_token" in refused.json()["detail"]


def test_the_data_folder_database_and_key_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{data}/trunkline.db",
        "TRUNKLINE_SECRET_KEY_FILE": str(data / "secret.key"),
        "TRUNKLINE_AUDIT_KEY_FILE": str(data / "audit.key"),
        "TRUNKLINE_AUDIT_CHECKPOINTS": str(data / "audit-checkpoints.jsonl"),
        "TRUNKLINE_FLOWS_DIR": str(tmp_path),
    }
    _restart(load_settings(env=env, dotenv=None))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("trunkline.db", "secret.key", "audit.key", "audit-checkpoints.jsonl"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_an_older_readable_database_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        **key_env(tmp_path),
        "TRUNKLINE_FLOWS_DIR": str(tmp_path),
    }
    _restart(load_settings(env=env, dotenv=None))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_legacy_secret_too_long_to_encrypt_in_its_column_is_left_and_reported(
    client: TestClient[Any], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    long_token = "t" * 150  # fits the 200-character column in plain text, not once encrypted

    async def write_plain(session: AsyncSession) -> None:
        await session.execute(text("UPDATE projects SET twilio_auth_token = :t"), {"t": long_token})
        await session.commit()

    run_db(settings, write_plain)
    caplog.set_level(logging.WARNING, logger="gateway.security")
    _restart(settings)  # starts all the same

    async def raw(session: AsyncSession) -> str:
        return str((await session.execute(text("SELECT twilio_auth_token FROM projects"))).scalar_one())

    assert run_db(settings, raw) == long_token
    assert any("too long to encrypt" in r.getMessage() for r in caplog.records)
