"""`POST /webhooks/livekit`: verify, then deduplicate and apply (calls through the call store); answer 200.

The JWT in `Authorization` names the API key that signed it (`iss`); the webhook is verified with the secret of
the project(s) using that key (`verify_webhook`), so each tenant's LiveKit can post here. Forged, tampered or
foreign webhooks get 403 and change nothing. Events that need no work are acknowledged without touching the
database; the others are acknowledged once their effects are saved (idempotent: call events carry the webhook's
id) and their receipt (`gateway.db.receipts`, by event id) is recorded, so a replay (LiveKit retrying, or someone
re-posting a captured webhook) changes nothing and is answered as a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec
from litestar import Request, post
from litestar.datastructures import State
from sqlalchemy import Select, select

from gateway.db import receipts
from gateway.db.database import Database
from gateway.db.models import Agent, DispatchRule, Project, Trunk
from gateway.errors import Forbidden
from gateway.services import services
from gateway.settings import Settings

from . import events
from .clients import credentials_of
from .receiver import LiveKitWebhookRejected, verify_webhook
from .sync_store import ROUTES_KEY
from .webhooks import LiveKitEvent

logger = logging.getLogger("gateway.livekit.webhooks")

RECEIPT_SOURCE = "livekit"
CACHE_SECONDS = 5.0
"""How long other replicas' credential and trunk changes may take to be seen (this replica's: at once)."""
UNKNOWN_RULE_SECONDS = 1.0
"""A call through a dispatch rule the cached routes do not know reads them again (a sync may just have made it), at
most this often per rule: calls through rules not compiled from routes would otherwise read every rule of the
project on every event."""


class WebhookForbidden(Forbidden):
    title = "LiveKit webhook rejected"


class Ack(msgspec.Struct, frozen=True):
    event_id: str
    event: str
    outcome: Literal["applied", "duplicate", "ignored"]


class Directory:
    """Signing keys of every project, and each project's LiveKit trunk ids, reloaded when stale or changed."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._keys: dict[str, tuple[str, list[str]]] = {}
        self._keys_at = -CACHE_SECONDS
        self._trunks: dict[str, tuple[float, dict[str, str]]] = {}
        self._agents: dict[str, tuple[float, dict[str, str]]] = {}
        self._routes: dict[str, tuple[float, dict[str, dict[str, str]]]] = {}
        self._unknown_rules: dict[tuple[str, str], float] = {}

    def invalidate(self) -> None:
        self._keys_at = -CACHE_SECONDS
        self._trunks.clear()
        self._agents.clear()
        self._routes.clear()
        self._unknown_rules.clear()

    async def signer(self, api_key: str) -> tuple[str, list[str]] | None:
        """(secret, project ids) for an API key; several projects may share one LiveKit project."""
        now = time.monotonic()
        if now - self._keys_at >= CACHE_SECONDS:
            keys: dict[str, tuple[str, list[str]]] = {}
            async with self._database.session() as db:
                projects = (await db.scalars(select(Project).order_by(Project.id))).all()
            for project in projects:
                credentials = credentials_of(project, self._settings)
                if credentials is not None:
                    secret, ids = keys.setdefault(credentials.api_key, (credentials.api_secret, []))
                    if secret == credentials.api_secret:
                        ids.append(project.id)
            self._keys, self._keys_at = keys, now
        return self._keys.get(api_key)

    async def agents(self, project_id: str) -> dict[str, str]:
        """Agent name -> agent id (live agents only)."""
        return await self._mapping(
            self._agents,
            project_id,
            lambda: select(Agent.name, Agent.id).where(
                Agent.project_id == project_id, Agent.deleted_at.is_(None)
            ),
        )

    async def trunks(self, project_id: str) -> dict[str, str]:
        """LiveKit trunk id -> gateway trunk id."""
        return await self._mapping(
            self._trunks,
            project_id,
            lambda: select(Trunk.livekit_trunk_id, Trunk.id).where(
                Trunk.project_id == project_id, Trunk.livekit_trunk_id.is_not(None)
            ),
        )

    async def routes(self, project_id: str, rule_id: str) -> dict[str, str]:
        """Number -> route id for the numbers the LiveKit dispatch rule `rule_id` admits with a route decided
        when compiling (`sync_store.ROUTES_KEY`); read again when the rule is not known yet (a sync just made it)."""
        now = time.monotonic()
        cached = self._routes.get(project_id)
        unknown = cached is not None and rule_id not in cached[1]
        if unknown and now - self._unknown_rules.get((project_id, rule_id), -math.inf) < UNKNOWN_RULE_SECONDS:
            return {}  # looked for moments ago (a rule not compiled from routes): not read again yet
        if unknown:
            self._unknown_rules[(project_id, rule_id)] = now
        if cached is None or now - cached[0] >= CACHE_SECONDS or unknown:
            query = select(DispatchRule.livekit_rule_id, DispatchRule.sync_state).where(
                DispatchRule.project_id == project_id, DispatchRule.livekit_rule_id.is_not(None)
            )
            async with self._database.session() as db:
                rows = (await db.execute(query)).all()
            by_rule = {str(rule): dict(state.get(ROUTES_KEY) or {}) for rule, state in rows}
            cached = (now, by_rule)
            self._routes[project_id] = cached
        return cached[1].get(rule_id, {})

    async def _mapping(
        self,
        cache: dict[str, tuple[float, dict[str, str]]],
        project_id: str,
        query: Callable[[], Select[Any, Any]],
    ) -> dict[str, str]:
        """A project's two-column lookup, read at most every CACHE_SECONDS (the query is built only then)."""
        now = time.monotonic()
        cached = cache.get(project_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self._database.session() as db:
            mapping = {str(key): str(value) for key, value in await db.execute(query())}
        cache[project_id] = (now, mapping)
        return mapping


def _issuer(authorization: str | None) -> str:
    """The API key a webhook claims to be signed with (`iss`); `verify_webhook` then checks that claim."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token:
        raise WebhookForbidden("LiveKit webhook without Authorization header; only LiveKit may post here.")
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        raise WebhookForbidden("LiveKit webhook with a malformed Authorization token.") from None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise WebhookForbidden("LiveKit webhook token names no API key (iss).")
    return issuer


def _project_of(event: LiveKitEvent, candidates: list[str]) -> str:
    if len(candidates) > 1 and event.participant is not None:
        named = event.participant.attributes.get("trunkline.project_id")
        if named in candidates:
            return named
    return candidates[0]


AfterApplied = Callable[[str, events.Applied], Awaitable[None]]


class Ingest:
    def __init__(
        self, directory: Directory, applier: events.EventApplier, database: Database, after: AfterApplied
    ) -> None:
        self.directory = directory
        self.applier = applier
        self.database = database
        self.after = after

    async def receive(self, body: bytes, authorization: str | None) -> Ack:
        api_key = _issuer(authorization)
        signer = await self.directory.signer(api_key)
        if signer is None:
            logger.info("LiveKit webhook signed with an unknown API key")
            raise WebhookForbidden("LiveKit webhook signed with an API key no project here uses.")
        secret, projects = signer
        try:
            event = verify_webhook(body, authorization, api_key=api_key, api_secret=secret)
        except LiveKitWebhookRejected as exc:
            logger.info("LiveKit webhook failed verification", extra={"reason": exc.detail})
            raise WebhookForbidden(exc.detail) from None
        if events.effect_of(event) == "ignored":
            return Ack(event.id, event.event, "ignored")
        key = event.id or hashlib.sha256(body).hexdigest()
        project_id = _project_of(event, projects)
        # A call's events carry the webhook's id, so the call store itself tells a replay; others need a receipt.
        receipted = events.effect_of(event) != "call"
        if receipted and await receipts.seen(self.database, RECEIPT_SOURCE, key):
            return Ack(event.id, event.event, "duplicate")
        sip = event.participant.sip if event.participant is not None else None
        applied = await self.applier.apply(
            project_id,
            event,
            await self.directory.trunks(project_id),
            await self.directory.agents(project_id),
            await self.directory.routes(project_id, sip.rule_id) if sip is not None and sip.rule_id else {},
        )
        if receipted:
            await receipts.remember(self.database, RECEIPT_SOURCE, key)
        elif applied.duplicate:
            return Ack(event.id, event.event, "duplicate")
        try:
            await self.after(project_id, applied)
        except Exception:  # follow-up work (answer watches) must not fail the acknowledgement
            logger.exception("after-apply work for a LiveKit webhook failed")
        return Ack(event.id, event.event, "applied")


@post(
    "/webhooks/livekit",
    status_code=200,
    operation_id="livekitWebhook",
    summary="LiveKit webhooks (signed by LiveKit): calls, rooms, recordings",
    tags=["webhooks"],
)
async def livekit_webhook(request: Request[Any, Any, Any], state: State) -> Ack:
    from .runtime import LiveKitRuntime

    ingest = services(state).get(LiveKitRuntime).ingest
    return await ingest.receive(await request.body(), request.headers.get("authorization"))
