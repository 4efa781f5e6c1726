"""A call record as plain attributes: cheaper than an ORM instance on the webhook hot paths.

The group-commit writers insert new drafts as rows (and the LiveKit writer loads the calls a batch touches as
drafts and writes back what changed); when a call must be saved in a request's session instead (it waits on
LiveKit or a lookup first), `to_orm` turns it into a `Call`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from gateway.db.models import Call


@dataclass(slots=True, kw_only=True)
class CallDraft:
    id: str
    project_id: str
    direction: str
    carrier: str
    carrier_call_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    from_e164: str = ""
    to_e164: str = ""
    trunk_id: str | None = None
    route_id: str | None = None
    flow_id: str | None = None
    flow_version: str | None = None
    agent_id: str | None = None
    livekit_room: str | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    sip_status: int | None = None
    carrier_status: str | None = None
    duration_s: int | None = None
    last_sequence: int = -1
    lifecycle: dict[str, Any] | None = None
    ivr_state: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """Column values as they are (shallow: `dataclasses.asdict` would deep-copy the JSON columns)."""
        return {name: getattr(self, name) for name in _FIELDS}

    def to_orm(self) -> Call:
        return Call(**self.row())


_FIELDS = tuple(f.name for f in fields(CallDraft))
_missing = {column.key for column in Call.__table__.columns} ^ {f.name for f in fields(CallDraft)}
assert not _missing, f"CallDraft and Call disagree on {sorted(_missing)}"
