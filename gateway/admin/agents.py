"""Agents: named voice-agent definitions (instructions, voice, STT/LLM/TTS, welcome message, flags).

The definition lives in one JSON column so new fields need no migration; per-call overrides are
deep-merged at call start. Deletion is soft: calls that used an agent keep pointing at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped, to_builtins
from gateway.db.models import Agent
from gateway.db.types import utcnow
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ModelChoice(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    model: str = ""
    language: str = ""
    voice: str = ""
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None


class AgentIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name
    """Dispatch name: the livekit-agents worker registered under this name serves the agent's calls."""
    instructions: str = ""
    voice: str = ""
    welcome_message: str = ""
    stt: ModelChoice | None = None
    llm: ModelChoice | None = None
    tts: ModelChoice | None = None
    flags: dict[str, bool] = {}
    config: dict[str, Any] = {}
    """Free-form extra configuration handed to the agent; deep-merged with per-call overrides."""


class AgentOut(AgentIn, kw_only=True):
    id: str
    created_at: datetime
    updated_at: datetime


def render(agent: Agent) -> AgentOut:
    return msgspec.convert(
        {
            **agent.config,
            "name": agent.name,
            "id": agent.id,
            "created_at": agent.created_at,
            "updated_at": agent.updated_at,
        },
        AgentOut,
        from_attributes=True,
    )


def stored(data: AgentIn) -> dict[str, Any]:
    body: dict[str, Any] = to_builtins(data)
    body.pop("name", None)
    return body


EXAMPLE = {
    "name": "support-bot",
    "instructions": "You are a friendly support agent.",
    "welcome_message": "Hi, how can I help?",
    "tts": {"provider": "cartesia", "voice": "warm"},
}


class AgentController(Controller):
    path = "/agents"
    tags = ["agents"]

    @get(operation_id="listAgents", summary="List agents")
    async def list_agents(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
    ) -> Page[AgentOut]:
        stmt = select(Agent).where(Agent.project_id == principal.project_id, Agent.deleted_at.is_(None))
        if name:
            stmt = stmt.where(Agent.name == name)
        return await page(db, stmt, Agent, limit, after, render)

    @post(operation_id="createAgent", summary="Create an agent")
    async def create_agent(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            AgentIn,
            json_example(
                "A support agent",
                {
                    "name": "support-bot",
                    "instructions": "You are a friendly support agent.",
                    "welcome_message": "Hi, how can I help?",
                    "tts": {"provider": "cartesia", "voice": "warm"},
                },
            ),
        ],
    ) -> AgentOut:
        agent = Agent(id=new_id("agt"), project_id=principal.project_id, name=data.name, config=stored(data))
        db.add(agent)
        await commit_audited(
            db,
            principal,
            action="agent.create",
            object_type="agent",
            object_id=agent.id,
            before=None,
            after=to_builtins(data),
        )
        return render(agent)

    @get("/{agent_id:str}", operation_id="getAgent", summary="Get an agent")
    async def get_agent(self, db: Db, principal: Caller, agent_id: FromPath[str]) -> AgentOut:
        return render(await scoped(db, Agent, agent_id, principal))

    @patch("/{agent_id:str}", operation_id="updateAgent", summary="Change an agent (JSON merge-patch)")
    async def update_agent(
        self,
        db: Db,
        principal: Caller,
        agent_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("Change the greeting", {"welcome_message": "Hello!"})],
    ) -> AgentOut:
        agent = await scoped(db, Agent, agent_id, principal)
        before = {**agent.config, "name": agent.name}
        change = merge_patch(before, data, AgentIn)
        agent.name, agent.config = change.name, stored(change)
        await commit_audited(
            db,
            principal,
            action="agent.update",
            object_type="agent",
            object_id=agent.id,
            before=before,
            after=to_builtins(change),
        )
        return render(agent)

    @delete("/{agent_id:str}", operation_id="deleteAgent", summary="Delete an agent (soft)")
    async def delete_agent(self, db: Db, principal: Caller, agent_id: FromPath[str]) -> None:
        agent = await scoped(db, Agent, agent_id, principal)
        agent.deleted_at = utcnow()
        await commit_audited(
            db,
            principal,
            action="agent.delete",
            object_type="agent",
            object_id=agent.id,
            before={**agent.config, "name": agent.name},
            after=None,
        )
