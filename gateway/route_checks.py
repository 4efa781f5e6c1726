"""Checks of a route that need the project (not just the routing table): where its forwards may go."""

from __future__ import annotations

from typing import Any

from gateway.auth.principal import is_tenant
from gateway.calls.guard import DestinationPolicy
from gateway.db.models import Project

__all__ = ["refuse_forbidden_forwards"]


def refuse_forbidden_forwards(project: Project, spec: dict[str, Any]) -> None:
    """A route whose target or fallback forwards where the project's calls may not go is refused (toll fraud)."""
    policy = DestinationPolicy.for_project(
        project.settings, project.default_region, capped=is_tenant(project)
    )
    for part in ("target", "fallback"):
        target = spec.get(part) or {}
        if target.get("type") != "forward":
            continue
        for key in ("number", "sip_uri"):
            if target.get(key):
                policy.check(target[key], field=f"{part}.{key}")
