"""Small builders for routing tests: real model objects with short defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from routing.model import Match, ProjectRouting, Route, RouteQuery, Target

WEDNESDAY_NOON = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)
LONDON_DID = "+442079460000"
UK_CALLER = "+441614960000"
US_CALLER = "+12015550123"
FR_CALLER = "+33612345678"


def call(
    to: str = LONDON_DID,
    from_: str = UK_CALLER,
    *,
    trunk: str | None = None,
    headers: dict[str, str] | None = None,
    at: datetime = WEDNESDAY_NOON,
) -> RouteQuery:
    return RouteQuery(to=to, from_=from_, trunk=trunk, headers=headers or {}, at=at)


def route(route_id: str, target: Target, *, priority: int = 100, **options: Any) -> Route:
    match = options.pop("match", None) or Match(**{k: options.pop(k) for k in list(options) if k in _MATCH})
    return Route(id=route_id, target=target, priority=priority, match=match, **options)


_MATCH = {"numbers", "number_ranges", "caller", "trunks", "headers", "schedule"}


def table(
    *routes: Route, default: Target | None = None, region: str = "GB", **options: Any
) -> ProjectRouting:
    return ProjectRouting(
        project_id="proj", default_region=region, default_target=default, routes=list(routes), **options
    )
