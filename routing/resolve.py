"""Resolve one call against one project's routing table.

For many calls, build the index once (`routing.index.build_index`) and call `RoutingIndex.resolve`: these two
functions compile the table on every call and are meant for one-off answers (the API's "explain this call",
tests, the CLI's `routes explain`).
"""

from __future__ import annotations

from routing.index import ProjectIndex
from routing.model import Decision, ProjectRouting, RouteQuery

__all__ = ["explain", "resolve"]


def resolve(
    table: ProjectRouting, call: RouteQuery, *, unavailable: frozenset[str] = frozenset()
) -> Decision:
    """Pick one target for `call`, with the reason and a trace of the candidate routes.

    Deterministic: routes run by priority (lower first), then id; the first enabled route whose conditions
    hold wins. If its target is unavailable (a key of `unavailable` such as ``"livekit"`` or
    ``"agent:sales"``, see `routing.matching.requirements`) its fallback is used, else the next route is
    tried; then the project default; then ``RejectTarget("unavailable")`` with reason "no route matched".
    """
    return ProjectIndex(table).resolve(call, unavailable)


def explain(
    table: ProjectRouting, call: RouteQuery, *, unavailable: frozenset[str] = frozenset()
) -> Decision:
    """The same decision as `resolve`, with every route of the table in the trace."""
    return ProjectIndex(table).explain(call, unavailable)
