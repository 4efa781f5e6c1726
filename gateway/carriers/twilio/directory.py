"""Twilio accounts as the webhook hot path needs them: credentials, compiled routes, numbers and agents, cached.

Every voice webhook needs its project's auth token (to check the signature) and its routing table (to answer).
Loading and compiling them per request would cost several queries and a `ProjectIndex` build, so each Twilio
account is kept compiled in memory and reloaded only when it may be stale:

- in this process, any committed change to a project, route, trunk, phone number or agent bumps `generation()`
  (SQLAlchemy session events, so the admin API needs no hook), and every cached account older than the bump is
  reloaded on its next webhook;
- other replicas cannot see that bump, so an entry is also checked `ttl` seconds after it was loaded (default
  5 s): in the background, while the cached entry keeps serving, one query compares a fingerprint (count and
  latest `updated_at` of the project's routes, trunks, numbers and agents, and the project's own `updated_at`);
  only a changed fingerprint recompiles. A route edited through one replica reaches the others within about
  `ttl`, and an unchanged account costs one small query per TTL, never a request's latency.

A signature that fails against an entry older than `RECHECK_AFTER` is checked once more against a fresh load, so
a rotated auth token works everywhere at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from gateway.auth.principal import is_tenant
from gateway.calls.guard import DestinationPolicy
from gateway.db.database import Database
from gateway.db.models import Agent, PhoneNumber, Project, Route, Trunk
from gateway.routing_table import load_table
from routing.index import ProjectIndex, build_project_index
from routing.model import AgentTarget, Target
from routing.model import Route as RouteSpec

log = logging.getLogger("trunkline.twilio")

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
    missing_agents: frozenset[str]
    """`agent:<name>` for every agent the routes name that the project does not have (deleted, never made)."""
    destinations: DestinationPolicy
    """Where this project's calls may be forwarded or transferred (the toll-fraud guard)."""
    generation: int
    fingerprint: tuple[Any, ...]
    loaded_at: float = 0.0
    """When the directory loaded it, on the directory's clock."""

    def unavailable(self, *, livekit_ready: bool) -> frozenset[str]:
        """Routing keys (`routing.matching.requirements`) known to be unavailable before trying: agents this
        project does not have, and LiveKit when it is not configured. A flow missing from the registry is found
        out when the call tries it, and routed around then."""
        return self.missing_agents if livekit_ready else self.missing_agents | {"livekit"}


def _targets(account_routes: list[RouteSpec], default: Target | None) -> list[Target]:
    targets: list[Target] = [default] if default is not None else []
    for route in account_routes:
        targets.append(route.target)
        if route.fallback is not None:
            targets.append(route.fallback)
    return targets


async def fingerprint(db: AsyncSession, project_id: str) -> tuple[Any, ...]:
    """A cheap summary of everything an account's routing depends on (one query): it changes whenever a route,
    trunk, number, agent or the project itself is added, changed or deleted."""
    columns: list[Any] = [select(Project.updated_at).where(Project.id == project_id).scalar_subquery()]
    for model in (Route, Trunk, PhoneNumber, Agent):
        owned = model.project_id == project_id
        columns.append(select(func.count()).select_from(model).where(owned).scalar_subquery())
        columns.append(select(func.max(model.updated_at)).where(owned).scalar_subquery())
    return tuple((await db.execute(select(*columns))).one())


async def load_account(db: AsyncSession, account_sid: str) -> TwilioAccount | None:
    """The project using `account_sid`, compiled; None when no project has that AccountSid.

    The read transaction ends before the routes are compiled, so the connection is not held meanwhile.
    """
    stamp = generation()
    project = await db.scalar(select(Project).where(Project.twilio_account_sid == account_sid))
    if project is None or not project.twilio_auth_token:
        await db.rollback()
        return None
    project_id, auth_token, region = project.id, project.twilio_auth_token, project.default_region
    destinations = DestinationPolicy.for_project(project.settings, region, capped=is_tenant(project))
    livekit = None
    if project.livekit_url and project.livekit_api_key and project.livekit_api_secret:
        livekit = LiveKitCredentials(project.livekit_url, project.livekit_api_key, project.livekit_api_secret)
    version = await fingerprint(db, project_id)
    table = await load_table(db, project)
    numbers = (
        await db.execute(
            select(PhoneNumber.e164, PhoneNumber.trunk_id).where(PhoneNumber.project_id == project_id)
        )
    ).all()
    agents = {
        a.name: AgentInfo(a.id, a.name, dict(a.config))
        for a in (
            await db.scalars(select(Agent).where(Agent.project_id == project_id, Agent.deleted_at.is_(None)))
        ).all()
    }
    await db.rollback()
    targets = _targets(table.routes, table.default_target)
    return TwilioAccount(
        project_id=project_id,
        account_sid=account_sid,
        auth_token=auth_token,
        default_region=region,
        destinations=destinations,
        livekit=livekit,
        index=build_project_index(table),
        trunk_by_number={number: trunk for number, trunk in numbers if trunk is not None},
        agents=agents,
        routes_by_id={route.id: route for route in table.routes},
        missing_agents=frozenset(
            f"agent:{t.agent}" for t in targets if isinstance(t, AgentTarget) and t.agent not in agents
        ),
        generation=stamp,
        fingerprint=version,
    )


class AccountDirectory:
    """Compiled Twilio accounts by AccountSid, reloaded when stale (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.clock = clock
        self._accounts: dict[str, TwilioAccount] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self.loads = 0
        """How many times an account was (re)loaded and compiled."""
        self.checks = 0
        """How many times a cached account was checked against the database (its fingerprint)."""

    async def get(self, account_sid: str, *, reload: bool = False) -> TwilioAccount | None:
        """The account, from the cache when this process changed nothing since it was loaded; a TTL-expired entry
        is served while it is checked in the background (other replicas' changes arrive within about `ttl`).

        A load uses a session of its own, closed before returning.
        """
        cached = self._accounts.get(account_sid)
        if cached is not None and not reload and cached.generation == generation():
            if self.clock() - cached.loaded_at >= self.ttl:
                self._check_later(account_sid, cached)
            return cached
        async with self.database.session() as db:
            return await self._load(db, account_sid)

    async def _load(self, db: AsyncSession, account_sid: str) -> TwilioAccount | None:
        account = await load_account(db, account_sid)
        self.loads += 1
        if account is None:
            self._accounts.pop(account_sid, None)
            return None
        account = replace(account, loaded_at=self.clock())
        self._accounts[account_sid] = account
        return account

    def _check_later(self, account_sid: str, cached: TwilioAccount) -> None:
        if account_sid in self._refreshing:
            return
        task = asyncio.create_task(
            self._check(account_sid, cached), name=f"twilio-account-check-{account_sid}"
        )
        self._refreshing[account_sid] = task
        task.add_done_callback(lambda _: self._refreshing.pop(account_sid, None))

    async def _check(self, account_sid: str, cached: TwilioAccount) -> None:
        try:
            async with self.database.session() as db:
                self.checks += 1
                unchanged = await fingerprint(db, cached.project_id) == cached.fingerprint
                await db.rollback()
                if unchanged:
                    if self._accounts.get(account_sid) is cached:
                        self._accounts[account_sid] = replace(cached, loaded_at=self.clock())
                    return
                await self._load(db, account_sid)
        except Exception:  # keep serving the cached account; the next expiry checks again
            log.warning("checking a Twilio account for changes failed", exc_info=True)

    async def aclose(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def age(self, account: TwilioAccount) -> float:
        return self.clock() - account.loaded_at


install_invalidation()
