"""Webhook subscriptions: where Trunkline posts call events (delivered from the outbox). Secrets write-only."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped
from gateway.db.models import WebhookSubscription
from gateway.errors import InvalidInput
from gateway.ids import new_id
from gateway.net.outbound import AllowList, check_url
from gateway.services import services
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

EventName = Literal[
    "call.started", "call.answered", "call.ended", "call.event", "recording.ready", "transcript.ready", "*"
]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=1000)]
    events: Annotated[list[EventName], msgspec.Meta(min_length=1)]
    active: bool = True
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=r"^[\x20-\x7e]+$")] | None = (
        None
    )
    """HMAC secret for the signature header; generated (and shown once) when omitted."""


class WebhookOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut, kw_only=True):
    secret: str
    """Shown once."""


def render(w: WebhookSubscription) -> WebhookOut:
    return WebhookOut(id=w.id, url=w.url, events=w.events, active=w.active, created_at=w.created_at)


def input_of(w: WebhookSubscription) -> dict[str, Any]:
    return {"url": w.url, "events": w.events, "active": w.active}


async def check_destination(state: State, url: str) -> None:
    """Refuse URLs that reach loopback, private, link-local or metadata addresses (after DNS resolution)."""
    settings = services(state).settings
    reason = await check_url(url, AllowList.parse(settings.outbound_allow))
    if reason is not None:
        raise InvalidInput(
            f"The webhook URL is refused: {reason}. Webhooks go to public addresses only; an operator can allow "
            "an on-premise destination with TRUNKLINE_OUTBOUND_ALLOW (CIDRs or host names).",
            field="url",
        )


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @get(operation_id="listWebhooks", summary="List webhook subscriptions")
    async def list_webhooks(
        self, db: Db, principal: Caller, limit: FromQuery[int] = 50, after: FromQuery[str | None] = None
    ) -> Page[WebhookOut]:
        stmt = select(WebhookSubscription).where(WebhookSubscription.project_id == principal.project_id)
        return await page(db, stmt, WebhookSubscription, limit, after, render)

    @post(operation_id="createWebhook", summary="Subscribe a URL to call events")
    async def create_webhook(
        self,
        db: Db,
        state: State,
        principal: Caller,
        data: Annotated[
            WebhookIn,
            json_example(
                "Call ends", {"url": "https://example.com/hooks/trunkline", "events": ["call.ended"]}
            ),
        ],
    ) -> WebhookCreated:
        await check_destination(state, data.url)
        secret = data.secret or secrets.token_urlsafe(32)
        w = WebhookSubscription(
            id=new_id("whk"),
            project_id=principal.project_id,
            url=data.url,
            events=list(data.events),
            active=data.active,
            secret=secret,
        )
        db.add(w)
        await commit_audited(
            db,
            principal,
            action="webhook.create",
            object_type="webhook",
            object_id=w.id,
            before=None,
            after=input_of(w),
        )
        return WebhookCreated(**msgspec.structs.asdict(render(w)), secret=secret)

    @get("/{webhook_id:str}", operation_id="getWebhook", summary="Get a webhook subscription")
    async def get_webhook(self, db: Db, principal: Caller, webhook_id: FromPath[str]) -> WebhookOut:
        return render(await scoped(db, WebhookSubscription, webhook_id, principal))

    @patch("/{webhook_id:str}", operation_id="updateWebhook", summary="Change a subscription (merge-patch)")
    async def update_webhook(
        self,
        db: Db,
        state: State,
        principal: Caller,
        webhook_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("Pause", {"active": False})],
    ) -> WebhookOut:
        w = await scoped(db, WebhookSubscription, webhook_id, principal)
        before = input_of(w)
        change: WebhookIn = merge_patch(before, data, WebhookIn)
        if change.url != w.url:
            await check_destination(state, change.url)
        w.url, w.events, w.active = change.url, list(change.events), change.active
        if change.secret:
            w.secret = change.secret
        await commit_audited(
            db,
            principal,
            action="webhook.update",
            object_type="webhook",
            object_id=w.id,
            before=before,
            after=input_of(w),
        )
        return render(w)

    @delete("/{webhook_id:str}", operation_id="deleteWebhook", summary="Delete a webhook subscription")
    async def delete_webhook(self, db: Db, principal: Caller, webhook_id: FromPath[str]) -> None:
        w = await scoped(db, WebhookSubscription, webhook_id, principal)
        before = input_of(w)
        await db.delete(w)
        await commit_audited(
            db,
            principal,
            action="webhook.delete",
            object_type="webhook",
            object_id=webhook_id,
            before=before,
            after=None,
        )
