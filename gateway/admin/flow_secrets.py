"""Flow secrets: values a project's flows use by name (``{{ secret.NAME }}`` in an http step's url, headers or
body) instead of writing them into the flow file. Write-only: the API lists names, never values; audited by name."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, put
from litestar.datastructures import State
from litestar.params import FromPath
from sqlalchemy import select

from gateway.admin.crud import commit_audited
from gateway.auth.keys import Role
from gateway.db.models import FlowSecret
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.flow_secrets import secret_names
from gateway.ids import new_id
from gateway.ivr.secrets import SECRET_NAME
from gateway.ivr.templates import SECRET_PREFIX, variables_in
from gateway.services import services
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

MAX_SECRET_LENGTH = 1024


class FlowSecretIn(msgspec.Struct, forbid_unknown_fields=True):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SECRET_LENGTH, pattern=r"^[\x20-\x7e]+$")]
    """The secret: printable ASCII on one line, at most 1024 characters. Never returned."""


class FlowSecretOut(msgspec.Struct):
    name: str
    created_at: datetime
    updated_at: datetime
    used_by: list[str] = msgspec.field(default_factory=list)
    """Flows of this project that use it."""


class FlowSecretList(msgspec.Struct):
    items: list[FlowSecretOut]


def _check_name(name: str) -> None:
    if not SECRET_NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid secret name: use letters, digits and _ (at most 64), starting with a "
            "letter or _, e.g. crm_token.",
            field="name",
        )


def _users(state: State, project_id: str, name: str) -> list[str]:
    """Flows of the project whose templates name the secret."""
    users = []
    for loaded in services(state).flow_registry(project_id).all():
        for step in loaded.flow.steps.values():
            if any(_names(text, name) for _, text in step.texts()):
                users.append(loaded.id)
                break
    return sorted(users)


def _names(template: str, name: str) -> bool:
    try:
        return f"{SECRET_PREFIX}{name}" in variables_in(template)
    except ValueError:
        return False


def _render(state: State, row: FlowSecret) -> FlowSecretOut:
    return FlowSecretOut(
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        used_by=_users(state, row.project_id, row.name),
    )


async def _refresh_names(state: State, db: Db, project_id: str) -> None:
    """Tell the project's flows which secret names exist now (files that name a missing one do not load)."""
    library = services(state).flow_library()
    library.set_secret_names(project_id, await secret_names(db, project_id))
    await asyncio.to_thread(library.registry(project_id).load_all)


class FlowSecretController(Controller):
    path = "/flow-secrets"
    tags = ["flows"]

    @get(
        operation_id="listFlowSecrets", summary="List this project's flow secrets (names only, never values)"
    )
    async def list_secrets(self, state: State, db: Db, principal: Caller) -> FlowSecretList:
        rows = await db.scalars(
            select(FlowSecret).where(FlowSecret.project_id == principal.project_id).order_by(FlowSecret.name)
        )
        return FlowSecretList(items=[_render(state, row) for row in rows.all()])

    @get(
        "/{name:str}",
        operation_id="getFlowSecret",
        summary="A flow secret's name and dates (never its value)",
    )
    async def get_secret(self, state: State, db: Db, principal: Caller, name: FromPath[str]) -> FlowSecretOut:
        return _render(state, await _scoped(db, principal, name))

    @put(
        "/{name:str}",
        operation_id="putFlowSecret",
        opt={"role": Role.admin},
        status_code=200,
        summary="Set a flow secret (created or replaced); flows use it as {{ secret.NAME }} in http steps",
    )
    async def put_secret(
        self,
        state: State,
        db: Db,
        principal: Caller,
        name: FromPath[str],
        data: Annotated[FlowSecretIn, json_example("A CRM token", {"value": "s3cr3t-token"})],
    ) -> FlowSecretOut:
        _check_name(name)
        row = await db.scalar(
            select(FlowSecret).where(FlowSecret.project_id == principal.project_id, FlowSecret.name == name)
        )
        action = "flow_secret.update" if row is not None else "flow_secret.create"
        if row is None:
            row = FlowSecret(id=new_id("fsc"), project_id=principal.project_id, name=name, value=data.value)
            db.add(row)
        else:
            row.value = data.value
        await commit_audited(
            db,
            principal,
            action=action,
            object_type="flow_secret",
            object_id=name,
            before=None,
            after={"name": name},
        )
        await _refresh_names(state, db, principal.project_id)
        await db.commit()
        return _render(state, row)

    @delete(
        "/{name:str}",
        operation_id="deleteFlowSecret",
        opt={"role": Role.admin},
        summary="Delete a flow secret (refused while a flow of this project uses it)",
    )
    async def delete_secret(self, state: State, db: Db, principal: Caller, name: FromPath[str]) -> None:
        row = await _scoped(db, principal, name)
        users = _users(state, principal.project_id, name)
        if users:
            raise Conflict(
                f"Secret {name!r} is used by flows {', '.join(users)}; remove it from them first "
                "(PUT /v1/flows/{id}).",
                field="name",
            )
        await db.delete(row)
        await commit_audited(
            db,
            principal,
            action="flow_secret.delete",
            object_type="flow_secret",
            object_id=name,
            before={"name": name},
            after=None,
        )
        await _refresh_names(state, db, principal.project_id)
        await db.commit()


async def _scoped(db: Db, principal: Caller, name: str) -> FlowSecret:
    row = await db.scalar(
        select(FlowSecret).where(FlowSecret.project_id == principal.project_id, FlowSecret.name == name)
    )
    if row is None:
        raise NotFound(f"No flow secret {name!r} in this project; GET /v1/flow-secrets lists them.")
    return row
