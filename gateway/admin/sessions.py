"""`/v1/sessions`: start a web session (a room with the agent dispatched, and a join token), list and read them.

The token is returned once, in the start response, and never stored or logged.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from gateway.admin.crud import Page, commit_audited, page, scoped
from gateway.calls.outbound import deep_merge
from gateway.db.models import Agent, Project, WebSession
from gateway.db.types import utcnow
from gateway.errors import InvalidInput
from gateway.ids import new_id
from gateway.livekit.runtime import LiveKitRuntime
from gateway.livekit.types import AgentSpec
from gateway.services import services
from gateway.sessions.records import PROJECT_ATTR, SESSION_ATTR
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

Identity = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
Status = Literal["active", "ended"]
START_EXAMPLE = {
    "agent": "concierge",
    "identity": "visitor-42",
    "name": "Ada",
    "metadata": {"page": "/pricing"},
}


class SessionStartIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agent: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    """Name of the project's agent to dispatch into the session's room."""
    identity: Identity | None = None
    """The browser participant's identity; a random `web-...` one when omitted."""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """Display name of the browser participant."""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    """Participant metadata (JSON), visible to the agent."""
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    """Deep-merged over the agent's stored config for this session."""


class SessionOut(msgspec.Struct, kw_only=True):
    id: str
    room: str
    identity: str
    agent_id: str | None
    agent: str | None
    status: str
    metadata: dict[str, Any]
    created_at: datetime
    joined_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None


class SessionStarted(SessionOut, kw_only=True):
    token: str
    """LiveKit access token for the browser. Shown once: it is not stored."""
    url: str
    """LiveKit URL the browser connects to with the token."""
    expires_at: datetime


def render(row: WebSession) -> SessionOut:
    meta = row.meta or {}
    joined = meta.get("joined_at")
    return SessionOut(
        id=row.id,
        room=row.room,
        identity=row.identity,
        agent_id=row.agent_id,
        agent=meta.get("agent"),
        status=row.status,
        metadata=meta.get("metadata", {}),
        created_at=row.created_at,
        joined_at=datetime.fromisoformat(joined) if isinstance(joined, str) else None,
        ended_at=row.ended_at,
        end_reason=meta.get("end_reason"),
    )


def _ws_url(url: str) -> str:
    for plain, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(plain):
            return ws + url[len(plain) :]
    return url


class SessionController(Controller):
    path = "/sessions"
    tags = ["sessions"]

    @post(
        "/start", operation_id="startSession", summary="Start a web session: room, agent dispatch, join token"
    )
    async def start(
        self,
        db: Db,
        principal: Caller,
        state: State,
        data: Annotated[SessionStartIn, json_example("A visitor talks to the concierge", START_EXAMPLE)],
    ) -> SessionStarted:
        runtime = services(state).get(LiveKitRuntime)
        project = await db.get_one(Project, principal.project_id)
        agent = await db.scalar(
            select(Agent).where(
                Agent.project_id == project.id, Agent.name == data.agent, Agent.deleted_at.is_(None)
            )
        )
        if agent is None:
            raise InvalidInput(f"agent: no agent named {data.agent!r} in this project.", field="agent")
        livekit = await runtime.clients.get(project)
        await db.commit()
        session_id = new_id("ses")
        identity = data.identity or f"web-{secrets.token_hex(6)}"
        config = deep_merge(agent.config, data.overrides)
        room_meta = json.dumps({"trunkline": {"project_id": project.id, "session_id": session_id}})
        await livekit.ensure_room(
            session_id,
            metadata=room_meta,
            agents=[AgentSpec(agent.name, json.dumps(config, separators=(",", ":")))],
        )
        ttl = timedelta(seconds=runtime.settings.session_token_ttl)
        token = livekit.access_token(
            identity,
            session_id,
            ttl=ttl,
            name=data.name,
            metadata=json.dumps(data.metadata, separators=(",", ":")),
            attributes={SESSION_ATTR: session_id, PROJECT_ATTR: project.id},
        )
        now = utcnow()
        row = WebSession(
            id=session_id,
            project_id=project.id,
            room=session_id,
            identity=identity,
            agent_id=agent.id,
            status="active",
            meta={"agent": agent.name, "metadata": data.metadata, "name": data.name},
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        await commit_audited(
            db,
            principal,
            action="session.start",
            object_type="session",
            object_id=session_id,
            before=None,
            after={"room": session_id, "identity": identity, "agent": agent.name},
        )
        return SessionStarted(
            **msgspec.structs.asdict(render(row)),
            token=token,
            url=_ws_url(livekit.url),
            expires_at=now + ttl,
        )

    @get(
        operation_id="listSessions",
        summary="List web sessions, oldest id first; filter by status, agent, time",
    )
    async def list_sessions(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        status: FromQuery[Status | None] = None,
        agent_id: FromQuery[str | None] = None,
        identity: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> Page[SessionOut]:
        stmt = select(WebSession).where(WebSession.project_id == principal.project_id)
        if status:
            stmt = stmt.where(WebSession.status == status)
        if agent_id:
            stmt = stmt.where(WebSession.agent_id == agent_id)
        if identity:
            stmt = stmt.where(WebSession.identity == identity)
        if since:
            stmt = stmt.where(WebSession.created_at >= since)
        if until:
            stmt = stmt.where(WebSession.created_at < until)
        return await page(db, stmt, WebSession, limit, after, render)

    @get("/{session_id:str}", operation_id="getSession", summary="Get a web session")
    async def get_session(self, db: Db, principal: Caller, session_id: FromPath[str]) -> SessionOut:
        return render(await scoped(db, WebSession, session_id, principal))
