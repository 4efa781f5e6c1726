"""The compiled routing cache behind the voice webhook: changes made through this process apply to the very next
call; changes made by another replica are picked up within the TTL by a fingerprint check, without recompiling
an account that did not change; targets that vanish (a deleted agent, a deleted flow) are routed around."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gateway.carriers.twilio.directory import AccountDirectory
from gateway.db.database import Database
from gateway.db.migrate import upgrade
from gateway.db.models import Project
from gateway.db.models import Route as RouteRow
from gateway.settings import load_settings
from routing.model import RouteQuery, target_label
from tests.conftest import key_env
from tests.integration.twilio.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    NUMBER,
    Gateway,
    run,
    running_gateway,
)
from tests.support.twilio import Conversation

pytestmark = pytest.mark.db

FORWARD_TO = "+442079460123"


def call(gw: Gateway) -> Conversation:
    async def place() -> Conversation:
        async with gw.simulator() as twilio:
            conversation = await twilio.call(CALLER, NUMBER)
            if not conversation.hung_up:
                await conversation.hangup()
            return conversation

    return run(place())


def decisions(gw: Gateway, conversation: Conversation) -> list[dict[str, Any]]:
    record = gw.call_by_sid(conversation.call_sid)
    return [e["data"] for e in record["events"] if e["kind"] == "routing.decided"]


def test_route_changes_through_this_gateway_apply_to_the_next_call(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path, livekit=False) as gw:
        route = gw.route("main line", {"type": "flow", "flow": "main_menu"})
        assert call(gw).prompts[0] == "Thank you for calling Acme."

        changed = gw.http.patch(
            f"/v1/routes/{route['id']}",
            json={"target": {"type": "forward", "number": FORWARD_TO, "flow": None}},
        )
        assert changed.status_code == 200, changed.text
        forwarded = call(gw)
        assert [(d.kind, d.address) for d in forwarded.dialed] == [("number", FORWARD_TO)]

        assert gw.http.delete(f"/v1/routes/{route['id']}").status_code == 204
        unrouted = call(gw)
        assert unrouted.prompts[0].startswith("Sorry, this number cannot take your call right now.")


def test_a_deleted_agent_or_flow_sends_the_caller_to_the_fallback(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        agent = gw.agent("sales-assistant")
        gw.route(
            "agents",
            {"type": "agent", "agent": "sales-assistant"},
            fallback={"type": "flow", "flow": "main_menu"},
        )
        gw.route(
            "after the agents",
            {"type": "forward", "number": FORWARD_TO},
            priority=200,
        )
        assert gw.http.delete(f"/v1/agents/{agent['id']}").status_code == 204
        conversation = call(gw)
        assert conversation.prompts[0] == "Thank you for calling Acme."
        (decided,) = decisions(gw, conversation)
        assert (decided["target"], decided["used_fallback"]) == ("flow:main_menu", True)

        refused = gw.http.delete("/v1/flows/main_menu")
        assert refused.status_code == 409, "a route still sends calls there"
        (tmp_path / "flows" / "main_menu.yaml").unlink()  # an operator removes the file anyway
        deadline = time.monotonic() + 10
        while gw.http.get("/v1/flows/main_menu").status_code != 404 and time.monotonic() < deadline:
            time.sleep(0.05)
        conversation = call(gw)
        assert [(d.kind, d.address) for d in conversation.dialed] == [("number", FORWARD_TO)]
        assert [d["target"] for d in decisions(gw, conversation)] == ["flow:main_menu", "forward:number"]


def test_changes_by_another_replica_arrive_within_the_ttl(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(env={"DATABASE_URL": database_url, **key_env(tmp_path)}, dotenv=None)

    async def scenario() -> None:
        database = Database.for_settings(settings)
        engine = database.engine
        await upgrade(engine)
        async with database.session() as db:
            db.add(
                Project(
                    id="prj_x",
                    slug="x",
                    name="X",
                    settings={},
                    twilio_account_sid=ACCOUNT_SID,
                    twilio_auth_token=AUTH_TOKEN,
                )
            )
            await db.flush()
            db.add(
                RouteRow(
                    id="rte_1",
                    project_id="prj_x",
                    name="main",
                    priority=100,
                    enabled=True,
                    spec={"target": {"type": "flow", "flow": "main_menu"}, "match": {"numbers": [NUMBER]}},
                )
            )
            await db.commit()
        now = [0.0]
        directory = AccountDirectory(database, ttl=5.0, clock=lambda: now[0])
        incoming = RouteQuery(to=NUMBER, from_=CALLER, at=datetime.now(UTC))

        async def target() -> str:
            account = await directory.get(ACCOUNT_SID)
            assert account is not None
            return target_label(account.index.resolve(incoming).target)

        assert await target() == "flow:main_menu"
        assert directory.loads == 1
        # Another replica edits the route: plain SQL on its own connection, so this process sees no ORM event.
        async with engine.begin() as connection:
            spec = {"target": {"type": "forward", "number": FORWARD_TO}, "match": {"numbers": [NUMBER]}}
            await connection.execute(
                update(RouteRow.__table__).where(RouteRow.id == "rte_1").values(spec=spec)
            )
        assert await target() == "flow:main_menu"  # still within the TTL
        now[0] = 6.0
        assert (
            await target() == "flow:main_menu"
        )  # served from the cache while it is checked in the background
        await asyncio.sleep(0.2)
        assert (directory.checks, directory.loads) == (1, 2)
        assert await target() == "forward:number"
        now[0] = 12.0
        assert await target() == "forward:number"
        await asyncio.sleep(0.2)
        assert (directory.checks, directory.loads) == (2, 2)  # unchanged: checked, not recompiled
        await directory.aclose()
        await engine.dispose()

    asyncio.run(scenario())
