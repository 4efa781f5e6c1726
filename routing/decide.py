"""The decision rule, shared by the indexed and the scanning resolver.

Walk the candidate routes in order (priority, then id). The first enabled route whose conditions hold and
whose target - or else fallback - is available wins; routes after it are recorded as lost without being
evaluated. If none wins: the project default when it is available, else a reject "unavailable" ("no route
matched").
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.matching import CallContext, CompiledRoute, requirements
from routing.model import Decision, RejectTarget, Target, TraceEntry, target_label

__all__ = ["NO_MATCH_TARGET", "decide"]

NO_MATCH_TARGET = RejectTarget(reason="unavailable")

_DISABLED = "route is disabled"


def decide(
    candidates: Iterable[CompiledRoute],
    context: CallContext,
    unavailable: frozenset[str],
    default_target: Target | None,
) -> Decision:
    trace: list[TraceEntry] = []
    winner: CompiledRoute | None = None
    chosen: Target | None = None
    used_fallback = False
    lost_why = ""
    for route in candidates:
        if not route.enabled:
            trace.append(TraceEntry(route_id=route.id, outcome="disabled", why=_DISABLED))
            continue
        if winner is not None:
            trace.append(TraceEntry(route_id=route.id, outcome="lost", why=lost_why))
            continue
        why_not = route.why_not(context)
        if why_not is not None:
            trace.append(TraceEntry(route_id=route.id, outcome="skipped", why=why_not))
            continue
        if unavailable.isdisjoint(route.target_needs):
            winner, chosen = route, route.target
            trace.append(TraceEntry(route_id=route.id, outcome="matched", why=route.matched_why))
        elif route.fallback is not None and unavailable.isdisjoint(route.fallback_needs):
            winner, chosen, used_fallback = route, route.fallback, True
            why = f"{route.matched_why}; target {target_label(route.target)} unavailable, used fallback"
            trace.append(TraceEntry(route_id=route.id, outcome="matched", why=why))
        else:
            trace.append(TraceEntry(route_id=route.id, outcome="unavailable", why=_unavailable_why(route)))
            continue
        lost_why = f"route {route.id!r} (priority {route.priority}) won first"

    if winner is not None and chosen is not None:
        reason = f"route {winner.id!r} matched"
        if used_fallback:
            reason += f"; target {target_label(winner.target)} unavailable, used fallback"
        return Decision(
            target=chosen, route_id=winner.id, reason=reason, used_fallback=used_fallback, trace=tuple(trace)
        )
    return _without_route(context, unavailable, default_target, trace)


def _unavailable_why(route: CompiledRoute) -> str:
    why = f"{route.matched_why}; target {target_label(route.target)} unavailable"
    if route.fallback is None:
        return why + ", no fallback"
    return why + f", fallback {target_label(route.fallback)} unavailable"


def _without_route(
    context: CallContext, unavailable: frozenset[str], default_target: Target | None, trace: list[TraceEntry]
) -> Decision:
    any_unavailable = any(entry.outcome == "unavailable" for entry in trace)
    reason = "no available route matched" if any_unavailable else "no route matched"
    if context.to_invalid is not None:
        reason += f" (dialled number invalid: {context.to_invalid})"
    if default_target is not None:
        if unavailable.isdisjoint(requirements(default_target)):
            return Decision(
                target=default_target, route_id=None, reason=reason + "; project default", trace=tuple(trace)
            )
        reason += f"; project default {target_label(default_target)} unavailable"
    return Decision(target=NO_MATCH_TARGET, route_id=None, reason=reason, trace=tuple(trace))
