"""Each project answers its own Twilio account: found by AccountSid, checked with its own auth token, routed by
its own routes; a reject route refuses with the right reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.twilio.harness import AUTH_TOKEN, CALLER, NUMBER, run, running_gateway
from tests.support.twilio import Conversation, TwilioSimulator, new_account_sid

pytestmark = pytest.mark.db

OTHER_NUMBER = "+442079460042"
OTHER_TOKEN = "d4" * 16


def test_each_project_answers_its_own_account(database_url: str, tmp_path: Path) -> None:
    other_sid = new_account_sid()
    with running_gateway(database_url, tmp_path, livekit=False) as gw:
        gw.route("main line", {"type": "flow", "flow": "main_menu"})
        created = gw.create(
            "/v1/projects",
            {
                "slug": "acme-uk",
                "name": "Acme UK",
                "default_region": "GB",
                "twilio_account_sid": other_sid,
                "twilio_auth_token": OTHER_TOKEN,
            },
        )
        with httpx.Client(
            base_url=gw.url, headers={"Authorization": f"Bearer {created['admin_key']}"}
        ) as other:
            response = other.post(
                "/v1/routes",
                json={"name": "busy line", "target": {"type": "reject", "reason": "busy"}, "match": {}},
            )
            assert response.status_code == 201, response.text

            async def calls() -> tuple[Conversation, Conversation, Conversation]:
                async with (
                    TwilioSimulator(gw.url, auth_token=OTHER_TOKEN, account_sid=other_sid) as acme_uk,
                    TwilioSimulator(gw.url, auth_token=AUTH_TOKEN, account_sid=other_sid) as forged,
                    gw.simulator() as default,
                ):
                    return (
                        await acme_uk.call(CALLER, OTHER_NUMBER),
                        await forged.call(CALLER, OTHER_NUMBER),
                        await default.call(CALLER, NUMBER),
                    )

            refused, forged, welcomed = run(calls())
            theirs = other.get("/v1/calls").json()["items"]

        assert refused.rejected == "busy"
        assert refused.events[-1].status == "busy"
        assert forged.error_code == 11200
        assert forged.deliveries[0].response is not None
        assert forged.deliveries[0].response.status_code == 403
        assert welcomed.prompts[0] == "Thank you for calling Acme."

        (their_call,) = theirs
        assert their_call["carrier_call_id"] == refused.call_sid
        assert (
            their_call["end_reason"]
            == f"rejected (busy): route 'busy line' ({their_call['route_id']}) matched"
        )
        assert their_call["sip_status"] == 486
        assert their_call["to_number"] == OTHER_NUMBER
        ours = [c["carrier_call_id"] for c in gw.calls()]
        assert ours == [welcomed.call_sid]
