"""Projects (tenants). Every key sees its own project; admins of the bootstrap `default` project manage all.

Carrier and LiveKit credentials are write-only: responses say whether they are set, never what they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from gateway import audit
from gateway.admin.crud import Page, commit_audited, merge_patch, page, to_builtins
from gateway.auth.keys import Role, new_key
from gateway.auth.principal import DEFAULT_PROJECT_SLUG, is_tenant
from gateway.calls.guard import OutboundLimits, limit_violations, limits_of
from gateway.carriers.twilio.params import ACCOUNT_SID_PATTERN
from gateway.credential_sources import FIELDS as CREDENTIAL_FIELDS
from gateway.credential_sources import Source, mark_api, source_of
from gateway.db.models import ApiKey, Project
from gateway.errors import Forbidden, InvalidInput, NotFound
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

Slug = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="lowercase, digits, dashes")
]
Region = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 region, e.g. GB")]
SECRET_FIELDS = ("twilio_auth_token", "livekit_api_secret")
# Stored encrypted (a Fernet token is ~1.4x longer): the caps keep the ciphertext within the columns.
PRINTABLE = r"^[\x20-\x7e]+$"


class OutboundPolicy(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    allowed_destination_countries: list[Region] = []
    """Regions outbound calls may reach (toll-fraud guard). Empty: only the project's default region."""
    allow_high_cost: bool = False
    """Premium-rate, shared-cost and satellite ranges are refused unless this is true."""
    allowed_sip_hosts: list[Annotated[str, msgspec.Meta(pattern=r"^(\*\.)?[A-Za-z0-9.:\[\]-]{1,253}$")]] = []
    """Hosts SIP URIs may point at (transfers, forwards): exact names or addresses, or `*.example.com`. Empty: SIP
    URIs are refused."""
    calls_per_second: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0


class ProjectIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    default_region: Region = "US"
    twilio_account_sid: Annotated[str, msgspec.Meta(pattern=ACCOUNT_SID_PATTERN)] | None = None
    twilio_auth_token: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=PRINTABLE)] | None = (
        None
    )
    livekit_url: Annotated[str, msgspec.Meta(pattern=r"^(https?|wss?)://\S+$")] | None = None
    livekit_api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    livekit_api_secret: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=PRINTABLE)] | None
    ) = None
    outbound: OutboundPolicy = msgspec.field(default_factory=OutboundPolicy)
    limits: OutboundLimits | None = None
    """How far this project's own `outbound` policy may reach (set by platform admins; tenants get the defaults)."""
    routing_default: dict[str, Any] | None = None
    """Where calls go when no route matches (a routing target, e.g. {"type": "flow", "flow": "main"})."""


class TwilioView(msgspec.Struct):
    account_sid: str | None
    auth_token_set: bool
    source: Source
    """`environment` (TWILIO_* of the default project, applied at each start), `api`, `unset` or `mixed`."""


class LiveKitView(msgspec.Struct):
    url: str | None
    api_key_set: bool
    api_secret_set: bool
    source: Source
    """`environment` (LIVEKIT_* of the default project, applied at each start), `api`, `unset` or `mixed`."""


class ProjectOut(msgspec.Struct):
    id: str
    slug: str
    name: str
    default_region: str
    twilio_account_sid: str | None
    twilio_auth_token_set: bool
    livekit_url: str | None
    livekit_api_key: str | None
    livekit_api_secret_set: bool
    outbound: OutboundPolicy
    limits: OutboundLimits | None
    """The platform's limits on `outbound` (null for the default project, which has none)."""
    routing_default: dict[str, Any] | None
    created_at: datetime
    twilio: TwilioView
    livekit: LiveKitView


class ProjectCreated(msgspec.Struct):
    project: ProjectOut
    admin_key: str
    """An admin API key for the new project. Shown once: store it now."""


def render(p: Project) -> ProjectOut:
    return ProjectOut(
        id=p.id,
        slug=p.slug,
        name=p.name,
        default_region=p.default_region,
        twilio_account_sid=p.twilio_account_sid,
        twilio_auth_token_set=bool(p.twilio_auth_token),
        livekit_url=p.livekit_url,
        livekit_api_key=p.livekit_api_key,
        livekit_api_secret_set=bool(p.livekit_api_secret),
        outbound=msgspec.convert(p.settings.get("outbound", {}), OutboundPolicy),
        limits=limits_of(p.settings, capped=is_tenant(p)),
        routing_default=p.settings.get("routing_default"),
        created_at=p.created_at,
        twilio=TwilioView(p.twilio_account_sid, bool(p.twilio_auth_token), source_of(p, "twilio")),
        livekit=LiveKitView(
            p.livekit_url, bool(p.livekit_api_key), bool(p.livekit_api_secret), source_of(p, "livekit")
        ),
    )


def stored_input(p: Project) -> dict[str, Any]:
    """The project as its input shape, secrets left out (merge-patch keeps them unless sent)."""
    body = {
        "slug": p.slug,
        "name": p.name,
        "default_region": p.default_region,
        "twilio_account_sid": p.twilio_account_sid,
        "livekit_url": p.livekit_url,
        "livekit_api_key": p.livekit_api_key,
        "outbound": p.settings.get("outbound", {}),
        "limits": p.settings.get("limits"),
        "routing_default": p.settings.get("routing_default"),
    }
    return {k: v for k, v in body.items() if v is not None}


def audit_view(data: ProjectIn) -> dict[str, Any]:
    body: dict[str, Any] = to_builtins(data)
    for secret in SECRET_FIELDS:
        if secret in body:
            body[secret] = "***"
    return body


def apply(p: Project, data: ProjectIn) -> None:
    if data.routing_default is not None:
        _check_routing_default(data.routing_default)
    p.slug, p.name, p.default_region = data.slug, data.name, data.default_region
    p.twilio_account_sid, p.livekit_url, p.livekit_api_key = (
        data.twilio_account_sid,
        data.livekit_url,
        data.livekit_api_key,
    )
    if data.twilio_auth_token is not None:
        p.twilio_auth_token = data.twilio_auth_token
    if data.livekit_api_secret is not None:
        p.livekit_api_secret = data.livekit_api_secret
    p.settings = {
        **p.settings,
        "outbound": to_builtins(data.outbound),
        "routing_default": data.routing_default,
    }
    if data.limits is not None:
        p.settings = {**p.settings, "limits": to_builtins(data.limits)}


def check_limits(principal: Caller, project: Project, before: dict[str, Any], change: ProjectIn) -> None:
    """Only platform admins set a project's limits; a tenant's own policy stays within them."""
    if not is_tenant(project):
        return
    if not principal.is_platform_admin and to_builtins(change.limits) != before.get("limits"):
        raise Forbidden("Only admins of the default project set a project's limits.", field="limits")
    limits = change.limits or limits_of({}, capped=True)
    assert limits is not None
    problems = limit_violations(to_builtins(change.outbound), limits)
    if problems and not principal.is_platform_admin:
        raise Forbidden(
            "; ".join(problems) + ". Ask an admin of the default project to raise this project's limits.",
            field="outbound",
        )


def _check_routing_default(target: dict[str, Any]) -> None:
    from routing.model import RouteDecodeError, Target

    try:
        msgspec.convert(target, Target)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"routing_default is not a valid target: {exc}", field="routing_default") from None
    except RouteDecodeError as exc:  # pragma: no cover - convert raises ValidationError
        raise InvalidInput(str(exc), field="routing_default") from None


def _visible(principal: Caller, project: Project | None, project_id: str) -> Project:
    if project is None or not (principal.is_platform_admin or project.id == principal.project_id):
        raise NotFound(f"No project with id {project_id!r} visible to this key.")
    return project


class ProjectController(Controller):
    path = "/projects"
    tags = ["projects"]

    @get(operation_id="listProjects", summary="List the projects this key can see")
    async def list_projects(
        self, db: Db, principal: Caller, limit: FromQuery[int] = 50, after: FromQuery[str | None] = None
    ) -> Page[ProjectOut]:
        stmt = select(Project)
        if not principal.is_platform_admin:
            stmt = stmt.where(Project.id == principal.project_id)
        return await page(db, stmt, Project, limit, after, render)

    @post(
        operation_id="createProject", summary="Create a project (platform admins)", opt={"role": Role.admin}
    )
    async def create_project(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            ProjectIn,
            json_example(
                "A tenant",
                {
                    "slug": "acme",
                    "name": "Acme Ltd",
                    "default_region": "GB",
                    "outbound": {"allowed_destination_countries": ["GB", "IE"], "calls_per_second": 2},
                },
            ),
        ],
    ) -> ProjectCreated:
        if not principal.is_platform_admin:
            raise Forbidden("Only admins of the default project can create projects.")
        project = Project(id=new_id("prj"), settings={})
        apply(project, data)
        db.add(project)
        await db.flush()
        await audit.ensure_head(db, project.id)
        key_id, token, secret_hash = new_key()
        db.add(
            ApiKey(
                id=key_id,
                project_id=project.id,
                name="initial admin",
                role=Role.admin.value,
                secret_hash=secret_hash,
            )
        )
        await audit.append(
            db,
            project_id=project.id,
            actor=principal.actor(),
            action="api_key.create",
            object_type="api_key",
            object_id=key_id,
            before=None,
            after={"name": "initial admin", "role": "admin"},
        )
        await commit_audited(
            db,
            principal,
            action="project.create",
            object_type="project",
            object_id=project.id,
            before=None,
            after=audit_view(data),
        )
        return ProjectCreated(project=render(project), admin_key=token)

    @get("/{project_id:str}", operation_id="getProject", summary="Get a project")
    async def get_project(self, db: Db, principal: Caller, project_id: FromPath[str]) -> ProjectOut:
        return render(_visible(principal, await db.get(Project, project_id), project_id))

    @patch(
        "/{project_id:str}",
        operation_id="updateProject",
        summary="Change a project (JSON merge-patch)",
        opt={"role": Role.admin},
    )
    async def update_project(
        self,
        db: Db,
        principal: Caller,
        project_id: FromPath[str],
        data: Annotated[
            dict[str, Any],
            json_example(
                "Twilio credentials",
                {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "your-auth-token"},
            ),
        ],
    ) -> ProjectOut:
        project = _visible(principal, await db.get(Project, project_id), project_id)
        before = stored_input(project)
        change = merge_patch(before, data, ProjectIn)
        if project.slug == DEFAULT_PROJECT_SLUG and change.slug != DEFAULT_PROJECT_SLUG:
            raise InvalidInput("The default project's slug cannot change.", field="slug")
        check_limits(principal, project, before, change)
        apply(project, change)
        after = audit_view(change)
        for secret in SECRET_FIELDS:
            if secret in data and data[secret] is None:  # merge-patch null: clear it
                setattr(project, secret, None)
                after[secret] = None
        mark_api(project, [field for field in CREDENTIAL_FIELDS if field in data])
        await commit_audited(
            db,
            principal,
            action="project.update",
            object_type="project",
            object_id=project.id,
            before=before,
            after=after,
            project_id=project.id,
        )
        return render(project)

    @delete(
        "/{project_id:str}",
        operation_id="deleteProject",
        summary="Delete a project and everything in it",
        opt={"role": Role.admin},
    )
    async def delete_project(self, db: Db, principal: Caller, project_id: FromPath[str]) -> None:
        project = _visible(principal, await db.get(Project, project_id), project_id)
        if not principal.is_platform_admin:
            raise Forbidden("Only admins of the default project can delete projects.")
        if project.slug == DEFAULT_PROJECT_SLUG:
            raise InvalidInput("The default project cannot be deleted.")
        await db.delete(project)
        # The project's own chain outlives it and ends with its deletion; the deleting admin's chain says it too.
        await audit.append(
            db,
            project_id=project_id,
            actor=principal.actor(),
            action="project.delete",
            object_type="project",
            object_id=project_id,
            before=stored_input(project),
            after=None,
        )
        await commit_audited(
            db,
            principal,
            action="project.delete",
            object_type="project",
            object_id=project_id,
            before=stored_input(project),
            after=None,
        )
