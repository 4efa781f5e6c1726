"""API keys: created with their secret shown once, stored hashed, revocable, optionally expiring."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from gateway.admin.crud import Page, commit_audited, page, scoped
from gateway.auth.keys import Role, new_key
from gateway.db.models import ApiKey
from gateway.db.types import utcnow
from gateway.errors import InvalidInput
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example


class ApiKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Role
    expires_at: datetime | None = None
    """Optional expiry (RFC 3339 with a time zone); requests after it get 401."""


class ApiKeyOut(msgspec.Struct):
    id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    token: str
    """The full key for `Authorization: Bearer ...`. Shown once; only a hash is stored."""


def render(k: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=k.id,
        name=k.name,
        role=Role(k.role),
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
    )


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api-keys"]
    opt = {"role": Role.admin}

    @get(operation_id="listApiKeys", summary="List API keys (never their secrets)")
    async def list_keys(
        self, db: Db, principal: Caller, limit: FromQuery[int] = 50, after: FromQuery[str | None] = None
    ) -> Page[ApiKeyOut]:
        stmt = select(ApiKey).where(ApiKey.project_id == principal.project_id)
        return await page(db, stmt, ApiKey, limit, after, render)

    @post(operation_id="createApiKey", summary="Create an API key; the response shows its secret once")
    async def create_key(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            ApiKeyIn,
            json_example(
                "A read-only key",
                {"name": "dashboard", "role": "viewer", "expires_at": "2030-01-01T00:00:00Z"},
            ),
        ],
    ) -> ApiKeyCreated:
        if data.expires_at is not None:
            if data.expires_at.tzinfo is None:
                raise InvalidInput(
                    "expires_at needs a time zone, e.g. 2030-01-01T00:00:00Z.", field="expires_at"
                )
            if data.expires_at <= utcnow():
                raise InvalidInput("expires_at is in the past; give a future time.", field="expires_at")
        key_id, token, secret_hash = new_key()
        key = ApiKey(
            id=key_id,
            project_id=principal.project_id,
            name=data.name,
            role=data.role.value,
            secret_hash=secret_hash,
            expires_at=data.expires_at,
        )
        db.add(key)
        await commit_audited(
            db,
            principal,
            action="api_key.create",
            object_type="api_key",
            object_id=key_id,
            before=None,
            after={
                "name": data.name,
                "role": data.role.value,
                "expires_at": str(data.expires_at) if data.expires_at else None,
            },
        )
        return ApiKeyCreated(**msgspec.structs.asdict(render(key)), token=token)

    @get("/{key_id:str}", operation_id="getApiKey", summary="Get an API key")
    async def get_key(self, db: Db, principal: Caller, key_id: FromPath[str]) -> ApiKeyOut:
        return render(await scoped(db, ApiKey, key_id, principal))

    @delete(
        "/{key_id:str}", operation_id="revokeApiKey", summary="Revoke an API key (it stops working at once)"
    )
    async def revoke_key(self, db: Db, principal: Caller, key_id: FromPath[str]) -> None:
        key = await scoped(db, ApiKey, key_id, principal)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await commit_audited(
                db,
                principal,
                action="api_key.revoke",
                object_type="api_key",
                object_id=key.id,
                before={"revoked": False},
                after={"revoked": True},
            )
