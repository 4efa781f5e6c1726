"""The whole schema. Projects (tenants) scope everything; every project-owned row carries `project_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.db.types import EncryptedString, JsonColumn, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = dict[str, Any]
ID = String(40)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), Json: JsonColumn}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def project_fk() -> Mapped[str]:
    return mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), index=True)


class Project(Timestamps, Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    twilio_auth_token: Mapped[str | None] = mapped_column(EncryptedString(200))
    livekit_url: Mapped[str | None] = mapped_column(String(500))
    livekit_api_key: Mapped[str | None] = mapped_column(String(200))
    livekit_api_secret: Mapped[str | None] = mapped_column(EncryptedString(500))
    settings: Mapped[Json] = mapped_column(default=dict)
    """Outbound policy (allowed destination countries, calls per second), routing defaults, ..."""


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Trunk(Timestamps, Base):
    __tablename__ = "trunks"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16))
    config: Mapped[Json] = mapped_column(default=dict)
    auth_password: Mapped[str | None] = mapped_column(EncryptedString(500))
    livekit_trunk_id: Mapped[str | None] = mapped_column(String(64))
    sync_state: Mapped[Json] = mapped_column(default=dict)


class PhoneNumber(Timestamps, Base):
    __tablename__ = "phone_numbers"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    trunk_id: Mapped[str | None] = mapped_column(ID, ForeignKey("trunks.id", ondelete="SET NULL"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(2))


class Route(Timestamps, Base):
    __tablename__ = "routes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[Json] = mapped_column(default=dict)
    """The routing engine's stored shape (match, target, fallback), validated by `routing`."""


class DispatchRule(Timestamps, Base):
    __tablename__ = "dispatch_rules"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[Json] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    """`manual` (created through the API) or `compiled` (derived from routes)."""
    livekit_rule_id: Mapped[str | None] = mapped_column(String(64))
    sync_state: Mapped[Json] = mapped_column(default=dict)


class Agent(Timestamps, Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[Json] = mapped_column(default=dict)
    deleted_at: Mapped[datetime | None]


Index(
    "uq_agents_live_name",
    Agent.project_id,
    Agent.name,
    unique=True,
    sqlite_where=Agent.deleted_at.is_(None),
    postgresql_where=Agent.deleted_at.is_(None),
)


class Call(Timestamps, Base):
    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("carrier", "carrier_call_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"))
    """Indexed by `ix_calls_project_created` (project first), which serves lookups by project too."""
    direction: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str] = mapped_column(String(16))
    carrier_call_id: Mapped[str | None] = mapped_column(String(128))
    from_e164: Mapped[str] = mapped_column(String(32), default="")
    to_e164: Mapped[str] = mapped_column(String(32), default="")
    trunk_id: Mapped[str | None] = mapped_column(ID)
    route_id: Mapped[str | None] = mapped_column(ID)
    flow_id: Mapped[str | None] = mapped_column(String(200))
    flow_version: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(ID)
    livekit_room: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="initiated", index=True)
    ringing_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))
    sip_status: Mapped[int | None] = mapped_column(Integer)
    carrier_status: Mapped[str | None] = mapped_column(String(32))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    lifecycle: Mapped[Json | None]
    """The folded `CallSnapshot` (gateway.calls.lifecycle); the columns above mirror it for queries."""
    ivr_state: Mapped[Json | None]
    routing: Mapped[Json | None]
    """The routing decision and its trace."""
    meta: Mapped[Json] = mapped_column(default=dict)


Index("ix_calls_project_created", Call.project_id, Call.created_at)
# `GET /v1/calls` pages by id within a project, each documented filter through its own (project, filter, id)
# index, so a page costs the same at a million calls; `since`/`until` bound the id too (ids are time-ordered).
Index("ix_calls_project_page", Call.project_id, Call.id)
Index("ix_calls_project_status_id", Call.project_id, Call.status, Call.id)
Index("ix_calls_project_direction_id", Call.project_id, Call.direction, Call.id)
Index("ix_calls_project_from_id", Call.project_id, Call.from_e164, Call.id)
Index("ix_calls_project_to_id", Call.project_id, Call.to_e164, Call.id)
# Only calls bridged into LiveKit have a room: carrier-only calls (most of them) add nothing to this index.
Index(
    "ix_calls_livekit_room",
    Call.livekit_room,
    sqlite_where=Call.livekit_room.is_not(None),
    postgresql_where=Call.livekit_room.is_not(None),
)


class CallEvent(Base):
    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq"), UniqueConstraint("call_id", "dedupe_key"))
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    call_id: Mapped[str] = mapped_column(ID, ForeignKey("calls.id", ondelete="CASCADE"))
    """Indexed by the (call_id, seq) unique constraint."""
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[Json] = mapped_column(default=dict)


class Recording(Timestamps, Base):
    __tablename__ = "recordings"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    call_id: Mapped[str | None] = mapped_column(ID, ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(String(1000))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[Json] = mapped_column(default=dict)


class Transcript(Timestamps, Base):
    __tablename__ = "transcripts"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    call_id: Mapped[str | None] = mapped_column(ID, ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    recording_id: Mapped[str | None] = mapped_column(ID, ForeignKey("recordings.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    transcript_id: Mapped[str] = mapped_column(
        ID, ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None]


class WebSession(Timestamps, Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    room: Mapped[str] = mapped_column(String(200))
    identity: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(String(16), default="active")
    meta: Mapped[Json] = mapped_column(default=dict)
    ended_at: Mapped[datetime | None]


class WebhookSubscription(Timestamps, Base):
    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    url: Mapped[str] = mapped_column(String(1000))
    events: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    secret: Mapped[str] = mapped_column(EncryptedString(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FlowSecret(Timestamps, Base):
    """A value a project's flows use by name (``{{ secret.NAME }}`` in an http step); encrypted, write-only."""

    __tablename__ = "flow_secrets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = project_fk()
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(EncryptedString(2000))


class OutboxMessage(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    project_id: Mapped[str] = project_fk()
    subscription_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Json] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class InboundReceipt(Base):
    """Webhook deliveries already handled (LiveKit event ids, carrier callback keys): replays change nothing."""

    __tablename__ = "inbound_receipts"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditHead(Base):
    """The newest link of each project's audit chain; updating it serialises appends."""

    __tablename__ = "audit_heads"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    """No foreign key: the chain outlives its project."""
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    legacy_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Records up to this seq predate the keyed chain (unkeyed SHA-256)."""


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (UniqueConstraint("project_id", "seq"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    project_id: Mapped[str] = mapped_column(ID, index=True)
    """No foreign key: the audit trail of a deleted project is kept (and still verifies)."""
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Json | None]
    after: Mapped[Json | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class RateLimitCounter(Base):
    """Requests counted in one fixed window, shared by the replicas on PostgreSQL (`gateway.web.rate_limit`)."""

    __tablename__ = "rate_limit_counters"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """What is counted and whose: `failed:<client address>`, `key:<api key id>`."""
    window_start: Mapped[int] = mapped_column(BigInteger)
    """The window's first second (Unix time); a hit in a later window starts the count again."""
    hits: Mapped[int] = mapped_column(Integer)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed, for Core statements (`Model.__table__` is typed as any FROM clause)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table
