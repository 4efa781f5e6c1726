"""First start: the `default` project, its settings-provided credentials, and a first admin key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.auth.keys import Role, new_key
from gateway.auth.principal import DEFAULT_PROJECT_SLUG
from gateway.credential_sources import apply_environment
from gateway.db.models import ApiKey, Project
from gateway.db.secret_rotation import reencrypt
from gateway.db.types import engine_keys
from gateway.errors import NotFound
from gateway.ids import new_id
from gateway.settings import Settings

SYSTEM = audit.Actor("system")


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    token: str
    project_slug: str
    role: Role


async def start_up(session: AsyncSession, settings: Settings) -> Project:
    """Every start (server and CLI): plain legacy secrets encrypted, the default project, audit heads published."""
    await reencrypt(session, engine_keys(session.get_bind().dialect).keyring, everything=False)
    project = await ensure_default_project(session, settings)
    await audit.publish_heads(session)
    return project


async def ensure_default_project(session: AsyncSession, settings: Settings) -> Project:
    """Create the default project once; apply the environment's carrier and LiveKit credentials to it (and
    remove those the environment set before but no longer does: `gateway.credential_sources`)."""
    project = await session.scalar(select(Project).where(Project.slug == DEFAULT_PROJECT_SLUG))
    if project is None:
        project = Project(id=new_id("prj"), slug=DEFAULT_PROJECT_SLUG, name="Default project", settings={})
        session.add(project)
        await session.flush()
        await audit.ensure_head(session, project.id)
        await audit.append(
            session,
            project_id=project.id,
            actor=SYSTEM,
            action="project.create",
            object_type="project",
            object_id=project.id,
            before=None,
            after={"slug": project.slug, "name": project.name},
        )
    apply_environment(project, settings)
    await session.commit()
    return project


async def create_key(
    session: AsyncSession,
    *,
    project_slug: str,
    role: Role,
    name: str,
    expires_at: datetime | None = None,
    actor: audit.Actor = SYSTEM,
) -> NewKey:
    project = await session.scalar(select(Project).where(Project.slug == project_slug))
    if project is None:
        raise NotFound(f"No project with slug {project_slug!r}. List projects with GET /v1/projects.")
    key_id, token, secret_hash = new_key()
    session.add(
        ApiKey(
            id=key_id,
            project_id=project.id,
            name=name,
            role=role.value,
            secret_hash=secret_hash,
            expires_at=expires_at,
        )
    )
    await session.flush()
    await audit.append(
        session,
        project_id=project.id,
        actor=actor,
        action="api_key.create",
        object_type="api_key",
        object_id=key_id,
        before=None,
        after={
            "name": name,
            "role": role.value,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    await session.commit()
    return NewKey(key_id, token, project.slug, role)


async def first_run_key(session: AsyncSession) -> NewKey | None:
    """An admin key for the default project when no key exists at all (the very first start)."""
    if await session.scalar(select(func.count()).select_from(ApiKey)):
        return None
    return await create_key(
        session, project_slug=DEFAULT_PROJECT_SLUG, role=Role.admin, name="first-run admin"
    )
