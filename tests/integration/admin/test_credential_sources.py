"""The default project's credentials from the environment: applied at each start, removed when unset, and shown
with their source; values set through the API stay."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import Api

pytestmark = pytest.mark.db

FROM_ENV = {
    "livekit_url": "http://127.0.0.1:9",
    "livekit_api_key": "APIenv",
    "livekit_api_secret": "env-secret-1234",
    "twilio_account_sid": "AC" + "e" * 32,
    "twilio_auth_token": "env-token-1234",
}


def _default_project(settings: Settings, change: dict[str, Any] | None = None) -> dict[str, Any]:
    """Restart the gateway with `settings`, optionally PATCH the default project, return it as the API shows."""
    with TestClient(create_app(settings, configure_logs=False)) as client:
        api = Api(client, _tokens[settings.database_url])
        project: dict[str, Any] = api.get("/v1/projects").json()["items"][0]
        if change is not None:
            response = api.patch(f"/v1/projects/{project['id']}", json=change)
            assert response.status_code == 200, response.text
        shown: dict[str, Any] = api.get(f"/v1/projects/{project['id']}").json()
        return shown


_tokens: dict[str, str] = {}
"""The first-run admin key of each test database (shown at its first start only)."""


def _first_start(settings: Settings) -> dict[str, Any]:
    with TestClient(create_app(settings, configure_logs=False)) as client:
        _tokens[settings.database_url] = client.app.state.first_run_key.token
        shown: dict[str, Any] = (
            Api(client, _tokens[settings.database_url]).get("/v1/projects").json()["items"][0]
        )
        return shown


def test_environment_credentials_are_applied_each_start_and_removed_when_unset(settings: Settings) -> None:
    with_env = dataclasses.replace(settings, **FROM_ENV)
    first = _first_start(with_env)
    assert first["livekit"] == {
        "url": "http://127.0.0.1:9",
        "api_key_set": True,
        "api_secret_set": True,
        "source": "environment",
    }
    assert first["twilio"] == {
        "account_sid": "AC" + "e" * 32,
        "auth_token_set": True,
        "source": "environment",
    }
    assert first["livekit_api_secret_set"] is True  # the older fields are still there

    again = _default_project(settings)  # restarted without LIVEKIT_* / TWILIO_*
    assert again["livekit"] == {"url": None, "api_key_set": False, "api_secret_set": False, "source": "unset"}
    assert again["twilio"]["source"] == "unset"
    assert again["livekit_url"] is None
    assert again["livekit_api_secret_set"] is False


def test_credentials_set_through_the_api_stay_without_the_environment(settings: Settings) -> None:
    with_env = dataclasses.replace(settings, **FROM_ENV)
    _first_start(with_env)
    changed = _default_project(
        settings,
        {
            "livekit_url": "https://lk.example.com",
            "livekit_api_key": "APIapi",
            "livekit_api_secret": "api-secret",
        },
    )
    assert changed["livekit"]["source"] == "api"
    kept = _default_project(settings)
    assert kept["livekit"] == {
        "url": "https://lk.example.com",
        "api_key_set": True,
        "api_secret_set": True,
        "source": "api",
    }
    assert kept["twilio"]["source"] == "unset"
    mixed = _default_project(dataclasses.replace(settings, livekit_url="http://127.0.0.1:9"))
    assert mixed["livekit"]["source"] == "mixed"
    assert mixed["livekit"]["url"] == "http://127.0.0.1:9"  # the environment wins at start
