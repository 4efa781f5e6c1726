"""Twilio accounts as the webhook hot path needs them: credentials, compiled routes, numbers and agents, cached.

Every voice webhook needs its project's auth token (to check the signature) and its routing table (to answer).
Loading and compiling them per request would cost several queries and a `ProjectIndex` build, so each Twilio
account is kept compiled in memory and reloaded only when it may be stale:

- in this process, any committed change to a project, route, trunk, phone number or agent bumps `generation()`
  (SQLAlchemy session events, so the admin API needs no hook), and every cached account older than the bump is
  reloaded on its next webhook;
- other replicas cannot see that bump, so an entry also expires `ttl` seconds after it was loaded (default 5 s):
  a route edited through one replica reaches the others within that time, and costs them one reload per
  account per TTL, not one per request. A signature that fails against an entry older than `RECHECK_AFTER` is
  checked once more against a fresh load, so a rotated auth token works everywhere at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from gateway.db.models import Agent, PhoneNumber, Project, Route, Trunk
from gateway.routing_table import load_table
from routing.index import ProjectIndex, build_project_index
from routing.model import AgentTarget, FlowTarget, Target
from routing.model import Route as RouteSpec

DEFAULT_TTL = 5.0
RECHECK_AFTER = 0.5
"""Seconds after which a signature failure reloads the account before giving up (a rotated auth token)."""

_WATCHED = (Project, Route, Trunk, PhoneNumber, Agent)
_DIRTY = "trunkline.routing_dirty"


class _Generation:
    """A process-wide counter of committed changes that can alter how a call is routed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


_generation = _Generation()


def generation() -> int:
    return _generation.value


def _after_flush(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED):
            session.info[_DIRTY] = True
            return


def _on_execute(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ in _WATCHED:
        state.session.info[_DIRTY] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        _generation.bump()


def install_invalidation() -> None:
    """Listen for committed routing changes on every session (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_commit", _after_commit)


@dataclass(frozen=True)
class AgentInfo:
    id: str
    name: str
    config: dict[str, Any]


@dataclass(frozen=True)
class LiveKitCredentials:
    url: str
    api_key: str
    api_secret: str


@dataclass(frozen=True)
class TwilioAccount:
    """One project as its Twilio webhooks see it. Immutable; replaced as a whole when reloaded."""

    project_id: str
    account_sid: str
    auth_token: str
    default_region: str
    livekit: LiveKitCredentials | None
    index: ProjectIndex
    trunk_by_number: Mapping[str, str]
    agents: Mapping[str, AgentInfo]
    routes_by_id: Mapping[str, RouteSpec]
    referenced_flows: frozenset[str]
    referenced_agents: frozenset[str]
    generation: int
    loaded_at: float = field(default_factory=time.monotonic)

    def unavailable(self, has_flow: Callable[[str], bool], *, livekit_ready: bool) -> frozenset[str]:
        """Routing keys (`routing.matching.requirements`) this account cannot serve right now."""
        missing = {f"agent:{name}" for name in self.referenced_agents if name not in self.agents}
        missing.update(f"flow:{flow}" for flow in self.referenced_flows if not has_flow(flow))
        if not livekit_ready:
            missing.add("livekit")
        return frozenset(missing)


def _targets(account_routes: list[RouteSpec], default: Target | None) -> list[Target]:
    targets: list[Target] = [default] if default is not None else []
    for route in account_routes:
        targets.append(route.target)
        if route.fallback is not None:
            targets.append(route.fallback)
    return targets


async def load_account(db: AsyncSession, account_sid: str) -> TwilioAccount | None:
    """The project using `account_sid`, compiled; None when no project has that AccountSid."""
    stamp = generation()
    project = await db.scalar(select(Project).where(Project.twilio_account_sid == account_sid))
    if project is None or not project.twilio_auth_token:
        return None
    table = await load_table(db, project)
    numbers = (
        await db.execute(
            select(PhoneNumber.e164, PhoneNumber.trunk_id).where(PhoneNumber.project_id == project.id)
        )
    ).all()
    agents = (
        await db.scalars(select(Agent).where(Agent.project_id == project.id, Agent.deleted_at.is_(None)))
    ).all()
    targets = _targets(table.routes, table.default_target)
    livekit = None
    if project.livekit_url and project.livekit_api_key and project.livekit_api_secret:
        livekit = LiveKitCredentials(project.livekit_url, project.livekit_api_key, project.livekit_api_secret)
    return TwilioAccount(
        project_id=project.id,
        account_sid=account_sid,
        auth_token=project.twilio_auth_token,
        default_region=project.default_region,
        livekit=livekit,
        index=build_project_index(table),
        trunk_by_number={number: trunk for number, trunk in numbers if trunk is not None},
        agents={a.name: AgentInfo(a.id, a.name, dict(a.config)) for a in agents},
        routes_by_id={route.id: route for route in table.routes},
        referenced_flows=frozenset(t.flow for t in targets if isinstance(t, FlowTarget)),
        referenced_agents=frozenset(t.agent for t in targets if isinstance(t, AgentTarget)),
        generation=stamp,
    )


class AccountDirectory:
    """Compiled Twilio accounts by AccountSid, reloaded when stale (see the module docstring)."""

    def __init__(self, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._accounts: dict[str, TwilioAccount] = {}
        self.loads = 0
        """How many times an account was (re)loaded from the database."""

    def fresh(self, account: TwilioAccount) -> bool:
        return account.generation == generation() and self.clock() - account.loaded_at < self.ttl

    async def get(self, db: AsyncSession, account_sid: str, *, reload: bool = False) -> TwilioAccount | None:
        cached = self._accounts.get(account_sid)
        if cached is not None and not reload and self.fresh(cached):
            return cached
        account = await load_account(db, account_sid)
        self.loads += 1
        if account is None:
            self._accounts.pop(account_sid, None)
            return None
        self._accounts[account_sid] = account
        return account

    def age(self, account: TwilioAccount) -> float:
        return self.clock() - account.loaded_at


install_invalidation()
