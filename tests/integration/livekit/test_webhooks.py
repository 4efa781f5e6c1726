"""`POST /webhooks/livekit` with hand-made events: forged ones refused, replays ignored, any order, per tenant."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook

from tests.integration.livekit.conftest import CALLER, DID, Gateway
from tests.support.livekit_standin.webhooks import build_event, encode_event, sign_body

TENANT_KEY = "tenant-b-key"
TENANT_SECRET = "tenant-b-secret-long-enough-for-hs256"


def sip_event(
    name: str, call_id: str, status: str, *, created_at: int, reason: int = 0, room: str = "room-1"
) -> proto_webhook.WebhookEvent:
    participant = proto_models.ParticipantInfo(
        sid=f"PA_{call_id}",
        identity=f"sip_{call_id}",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=created_at,
        disconnect_reason=reason,  # type: ignore[arg-type]
        attributes={
            "sip.callID": call_id,
            "sip.callStatus": status,
            "sip.phoneNumber": CALLER,
            "sip.trunkPhoneNumber": DID,
            "sip.trunkID": "ST_unknown",
        },
    )
    event = build_event(name, room=proto_models.Room(sid="RM_1", name=room), participant=participant)
    event.created_at = created_at
    return event


def post(gw: Gateway, body: str, authorization: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/webhook+json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(f"{gw.url}/webhooks/livekit", content=body.encode(), headers=headers)


def signed(gw: Gateway, event: proto_webhook.WebhookEvent, **key: Any) -> tuple[str, str]:
    body = encode_event(event)
    api_key = key.get("api_key", gw.livekit.api_key)
    secret = key.get("api_secret", gw.livekit.api_secret)
    return body, sign_body(body, api_key, secret, now=key.get("now"))


def calls(gw: Gateway, client: httpx.Client | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (client or gw.http).get("/v1/calls").json()["items"]
    return items


def test_forged_tampered_foreign_and_expired_webhooks_get_403_and_change_nothing(gateway: Gateway) -> None:
    event = sip_event("participant_joined", "SCL_forged", "active", created_at=int(time.time()))
    body, good = signed(gateway, event)
    other = sip_event("participant_joined", "SCL_other", "active", created_at=int(time.time()))
    attempts = {
        "unsigned": (body, None),
        "garbage token": (body, "not-a-jwt"),
        "wrong secret": signed(gateway, event, api_secret="a-different-secret-that-is-long-enough-too"),
        "unknown key": signed(
            gateway, event, api_key="nobody", api_secret="whatever-secret-long-enough-for-it"
        ),
        "tampered body": (encode_event(other), good),
        "expired": signed(gateway, event, now=time.time() - 3600),
    }
    for name, (text, authorization) in attempts.items():
        response = post(gateway, text, authorization)
        assert response.status_code == 403, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert calls(gateway) == []


def test_a_replayed_webhook_is_acknowledged_and_changes_nothing(gateway: Gateway) -> None:
    event = sip_event("participant_joined", "SCL_replay", "active", created_at=int(time.time()))
    body, authorization = signed(gateway, event)
    first = post(gateway, body, authorization)
    assert (first.status_code, first.json()["outcome"]) == (200, "applied")
    (call,) = calls(gateway)
    before = gateway.call(call["id"])
    again = post(gateway, body, authorization)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert gateway.call(call["id"]) == before


def test_events_that_need_no_work_are_acknowledged(gateway: Gateway) -> None:
    event = build_event("room_started", room=proto_models.Room(sid="RM_9", name="lobby"))
    response = post(gateway, *signed(gateway, event))
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")


def test_any_order_and_repeats_of_a_calls_webhooks_reach_the_same_record(gateway: Gateway) -> None:
    now = int(time.time())
    left = proto_models.DisconnectReason.CLIENT_INITIATED

    def history(call_id: str) -> list[proto_webhook.WebhookEvent]:
        return [
            sip_event("participant_joined", call_id, "ringing", created_at=now - 5, room=call_id),
            sip_event("participant_left", call_id, "active", created_at=now, reason=left, room=call_id),
            build_event("room_finished", room=proto_models.Room(sid="RM_x", name=call_id)),
        ]

    in_order = history("SCL_ordered")
    shuffled = history("SCL_shuffled")
    deliveries = shuffled + shuffled[:2]
    random.Random(7).shuffle(deliveries)
    deliveries.sort(key=lambda e: e.event != "participant_left")  # the end first: the hardest order
    for event in [*in_order, *deliveries]:
        assert post(gateway, *signed(gateway, event)).status_code == 200

    def outcome(sip_call_id: str) -> tuple[Any, ...]:
        (call,) = [c for c in calls(gateway) if c["carrier_call_id"] == sip_call_id]
        return (call["status"], call["ringing_at"], call["ended_at"], call["end_reason"], call["to_number"])

    assert outcome("SCL_ordered")[0] == "completed"
    assert outcome("SCL_ordered") == outcome("SCL_shuffled")


@pytest.fixture
def tenant(gateway: Gateway) -> Iterator[httpx.Client]:
    created = gateway.create(
        "/v1/projects",
        {
            "slug": "tenant-b",
            "name": "Tenant B",
            "livekit_url": gateway.livekit.url,
            "livekit_api_key": TENANT_KEY,
            "livekit_api_secret": TENANT_SECRET,
        },
    )
    with gateway.as_(created["admin_key"]) as client:
        yield client


def test_a_webhook_is_verified_with_and_filed_under_the_project_whose_key_signed_it(
    gateway: Gateway, tenant: httpx.Client
) -> None:
    event = sip_event("participant_joined", "SCL_tenant", "active", created_at=int(time.time()))
    body, authorization = signed(gateway, event, api_key=TENANT_KEY, api_secret=TENANT_SECRET)
    assert post(gateway, body, authorization).status_code == 200
    assert [c["carrier_call_id"] for c in calls(gateway, tenant)] == ["SCL_tenant"]
    assert calls(gateway) == []
    forged = signed(gateway, event, api_key=TENANT_KEY, api_secret=gateway.livekit.api_secret)
    assert post(gateway, *forged).status_code == 403
