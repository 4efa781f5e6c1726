"""Where the default project's carrier and LiveKit credentials come from: the environment or the API.

The rule: at every start, each TWILIO_* / LIVEKIT_* credential set in the environment is applied to the default
project and marked `environment`; one marked `environment` that the environment no longer sets is removed (so a
restart without LIVEKIT_* leaves LiveKit unconfigured, as /health/ready says). Values set through the API are
marked `api` and left alone when the environment does not set them. The marks live in `projects.settings`
under "sources"; values stored by versions before the marks are taken as set through the API.
"""

from __future__ import annotations

from typing import Literal

from gateway.db.models import Project
from gateway.settings import Settings

Source = Literal["environment", "api", "unset", "mixed"]

GROUPS: dict[str, tuple[str, ...]] = {
    "twilio": ("twilio_account_sid", "twilio_auth_token"),
    "livekit": ("livekit_url", "livekit_api_key", "livekit_api_secret"),
}
FIELDS = tuple(field for fields in GROUPS.values() for field in fields)


def _sources(project: Project) -> dict[str, str]:
    found = project.settings.get("sources") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _store(project: Project, sources: dict[str, str]) -> None:
    project.settings = {**project.settings, "sources": sources}


def mark_api(project: Project, fields: list[str]) -> None:
    """These fields were just set (or cleared) through the API."""
    sources = _sources(project)
    for field in fields:
        if getattr(project, field) is None:
            sources.pop(field, None)
        else:
            sources[field] = "api"
    _store(project, sources)


def apply_environment(project: Project, settings: Settings) -> None:
    """The start-up rule (see the module docstring) for the default project."""
    sources = _sources(project)
    for field in FIELDS:
        value = getattr(settings, field) or None
        if value is not None:
            if getattr(project, field) != value:
                setattr(project, field, value)
            sources[field] = "environment"
        elif sources.get(field) == "environment":
            setattr(project, field, None)
            del sources[field]
    if sources != _sources(project):
        _store(project, sources)


def source_of(project: Project, group: str) -> Source:
    """`environment` or `api` when every set credential of the group came from there; `unset`; else `mixed`."""
    sources = _sources(project)
    found = {sources.get(field, "api") for field in GROUPS[group] if getattr(project, field)}
    if not found:
        return "unset"
    if len(found) > 1:
        return "mixed"
    return "environment" if found == {"environment"} else "api"
