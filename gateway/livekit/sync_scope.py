"""Which LiveKit objects one sync looks at, so its LiveKit calls grow with what changed, not with the project.

- A full sync (the periodic drift check, `POST /v1/sync`, `GET /v1/sync`, a project's first sync) pages through
  LiveKit's three SIP lists (`Pagination`: `limit` items whose id sorts after `after_id`), `PAGE_SIZE` at a time.
- A change-triggered sync looks only at the objects whose wanted state differs from what the last sync stored
  (its digest), fetched by the LiveKit ids stored for them (one filtered listing per kind, none when nothing of
  that kind changed), and deletes the LiveKit ids of objects deleted in Trunkline (`Gone`, noted at commit).
  Changes made in LiveKit behind Trunkline's back are the drift check's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from livekit import api

from . import desired as want
from .facade import LiveKit, Page
from .sync_plan import Wanted, digest

T = TypeVar("T")

PAGE_SIZE = 500
"""Items per LiveKit listing request in a full sync."""


@dataclass(frozen=True)
class Gone:
    """A Trunkline object deleted in the database whose LiveKit copy (by its stored id) should go too."""

    kind: want.Kind
    livekit_id: str


async def every_page(list_page: Callable[[Page], Awaitable[list[T]]], id_of: Callable[[T], str]) -> list[T]:
    """Every item of a listing, one page after another, until a page comes back short."""
    items: list[T] = []
    after = ""
    while True:
        batch = await list_page(Page(PAGE_SIZE, after))
        items.extend(batch)
        if len(batch) < PAGE_SIZE:
            return items
        after = id_of(batch[-1])


def _trunk_id(info: api.SIPInboundTrunkInfo | api.SIPOutboundTrunkInfo) -> str:
    return info.sip_trunk_id


def _rule_id(info: api.SIPDispatchRuleInfo) -> str:
    return info.sip_dispatch_rule_id


async def everything(livekit: LiveKit) -> tuple[list[want.Actual], list[want.Actual], list[want.Actual]]:
    """Every inbound trunk, outbound trunk and dispatch rule LiveKit holds (full sync)."""
    inbound = await every_page(lambda page: livekit.list_inbound_trunks(page=page), _trunk_id)
    outbound = await every_page(lambda page: livekit.list_outbound_trunks(page=page), _trunk_id)
    rules = await every_page(lambda page: livekit.list_dispatch_rules(page=page), _rule_id)
    return (
        [want.actual("inbound_trunk", t) for t in inbound],
        [want.actual("outbound_trunk", t) for t in outbound],
        [want.actual("dispatch_rule", r) for r in rules],
    )


async def by_ids(livekit: LiveKit, kind: want.Kind, ids: Sequence[str]) -> list[want.Actual]:
    """LiveKit's copies of these objects (missing ones were deleted in LiveKit); no request without ids."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    if kind == "inbound_trunk":
        inbound = await every_page(
            lambda page: livekit.list_inbound_trunks(trunk_ids=wanted, page=page), _trunk_id
        )
        return [want.actual(kind, info) for info in inbound]
    if kind == "outbound_trunk":
        outbound = await every_page(
            lambda page: livekit.list_outbound_trunks(trunk_ids=wanted, page=page), _trunk_id
        )
        return [want.actual(kind, info) for info in outbound]
    rules = await every_page(lambda page: livekit.list_dispatch_rules(rule_ids=wanted, page=page), _rule_id)
    return [want.actual(kind, info) for info in rules]


def changed(item: Wanted, status: object) -> bool:
    """Whether the last sync left this object other than wanted now (never synced, changed since, or failed)."""
    return (
        status != "synced" or item.desired.known_id is None or item.synced_digest != digest(item.desired.info)
    )


def known_ids(items: Sequence[Wanted], kind: want.Kind) -> list[str]:
    return [w.desired.known_id for w in items if w.desired.kind == kind and w.desired.known_id]
