"""Who is calling: resolved from `Authorization: Bearer <api key>` for every /v1 request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import Actor
from gateway.auth.keys import ROLE_RANK, Role, secret_matches, split_token
from gateway.db.models import ApiKey, Project, table_of
from gateway.db.types import utcnow
from gateway.errors import Forbidden, Unauthorized
from gateway.logs import request_id_var

DEFAULT_PROJECT_SLUG = "default"


def is_tenant(project: Project) -> bool:
    """Any project but the platform's own (`default`): its outbound policy is capped by the platform's limits."""
    return project.slug != DEFAULT_PROJECT_SLUG


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    project_id: str
    project_slug: str
    role: Role
    source_ip: str | None

    @property
    def is_platform_admin(self) -> bool:
        """Admins of the bootstrap `default` project may create and manage other projects."""
        return self.role is Role.admin and self.project_slug == DEFAULT_PROJECT_SLUG

    def actor(self) -> Actor:
        return Actor(self.key_id, request_id_var.get(), self.source_ip)

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


async def authenticate(session: AsyncSession, header: str | None, source_ip: str | None) -> Principal:
    if not header:
        raise Unauthorized(
            "Missing Authorization header. Send `Authorization: Bearer <api key>`; create a key "
            "with `trunkline keys create --project default --role admin`."
        )
    scheme, _, token = header.partition(" ")
    parts = split_token(token.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        raise Unauthorized("Malformed credentials. Send `Authorization: Bearer tlk_key_..._...`.")
    key_id, secret = parts
    keys, projects = table_of(ApiKey), table_of(Project)
    key = (  # a Core read of the few columns needed: this runs before every /v1 request
        await session.execute(
            select(
                keys.c.secret_hash,
                keys.c.project_id,
                keys.c.role,
                keys.c.revoked_at,
                keys.c.expires_at,
                projects.c.slug,
            )
            .join(projects, projects.c.id == keys.c.project_id)
            .where(keys.c.id == key_id)
        )
    ).one_or_none()
    if key is None or not secret_matches(secret, key.secret_hash):
        raise Unauthorized("Unknown API key. Check the key, or create a new one.")
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("This API key was revoked. Create a new one.")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("This API key has expired. Create a new one.")
    return Principal(key_id, key.project_id, key.slug, Role(key.role), source_ip)


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Reads are open to every role; changes need `operator`, unless the handler asks for more via opt. (A
    coroutine: Litestar runs a plain function guard in a worker thread, a thread hop per request.)"""
    if connection.scope.get("method") == "OPTIONS":
        # Litestar's automatic OPTIONS answer (the allowed methods) is left unauthenticated by its auth middleware,
        # as CORS preflights carry no credentials; it tells nothing /schema does not.
        return
    principal: Principal = connection.user
    needed = handler.opt.get("role")
    if needed is None:
        needed = Role.viewer if connection.scope.get("method") in {"GET", "HEAD"} else Role.operator
    if not principal.at_least(Role(needed)):
        raise Forbidden(
            f"This needs the {needed} role; your key has the {principal.role} role. Use a key "
            f"with more rights."
        )
