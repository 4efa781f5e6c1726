"""Webhook subscriptions may only point at public addresses, unless the operator allows a destination."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.settings import Settings, load_settings
from tests.conftest import Api

pytestmark = pytest.mark.db

REFUSED = {
    "http://127.0.0.1:9000/hook": "127.0.0.1 is a loopback address",
    "http://0x7f.1/hook": "0x7f.1 is a loopback address",
    "http://[::ffff:127.0.0.1]/hook": "loopback",
    "http://localhost:8080/hook": "localhost (127.0.0.1) is a loopback address",
    "http://169.254.169.254/latest/meta-data": "link-local",
    "http://metadata.google.internal/computeMetadata/v1": "cloud metadata service",
    "https://10.0.0.7/hook": "private",
}


def test_subscriptions_to_refused_addresses_are_422_naming_why(api: Api) -> None:
    for url, why in REFUSED.items():
        response = api.post("/v1/webhooks", json={"url": url, "events": ["call.ended"]})
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert why in problem["detail"], (url, problem)
        assert "TRUNKLINE_OUTBOUND_ALLOW" in problem["detail"]
    assert api.get("/v1/webhooks").json()["items"] == []


def test_changing_a_subscription_to_a_refused_address_is_refused(api: Api) -> None:
    hook = api.create("/v1/webhooks", {"url": "https://93.184.215.14/hook", "events": ["call.ended"]})
    response = api.patch(f"/v1/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/"})
    assert response.status_code == 422, response.text
    assert "link-local" in response.json()["detail"]
    assert api.get(f"/v1/webhooks/{hook['id']}").json()["url"] == "https://93.184.215.14/hook"
    paused = api.patch(f"/v1/webhooks/{hook['id']}", json={"active": False})
    assert paused.status_code == 200, paused.text


def test_the_operator_can_allow_an_on_premise_destination(settings: Settings) -> None:
    allowed = load_settings(
        env={
            "DATABASE_URL": settings.database_url,
            "TRUNKLINE_FLOWS_DIR": settings.flows_dir,
            "TRUNKLINE_SECRET_KEY_FILE": settings.secret_key_file,
            "TRUNKLINE_AUDIT_KEY_FILE": settings.audit_key_file,
            "TRUNKLINE_AUDIT_CHECKPOINTS": settings.audit_checkpoints,
            "TRUNKLINE_OUTBOUND_ALLOW": "127.0.0.1/32, hooks.corp",
        },
        dotenv=None,
    )
    with TestClient(create_app(allowed, configure_logs=False)) as client:
        api = Api(client, client.app.state.first_run_key.token)
        assert (
            api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9000/h", "events": ["*"]}).status_code
            == 201
        )
        assert (
            api.post("/v1/webhooks", json={"url": "http://hooks.corp/h", "events": ["*"]}).status_code == 201
        )
        refused = api.post("/v1/webhooks", json={"url": "http://10.0.0.1/h", "events": ["*"]})
        assert refused.status_code == 422, refused.text
