"""The decision rule, shared by the indexed and the scanning resolver.

Walk the candidate routes in order (priority, then id). The first enabled route whose conditions hold and
whose target - or else fallback - is available wins; routes after it are recorded as lost without being
evaluated. If none wins: the project default when it is available, else a reject "unavailable" ("no route
matched").
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.matching import CompiledRoute, MatchContext, requirements
from routing.model import Decision, RejectTarget, Target, TraceEntry, target_label

__all__ = ["NO_MATCH_TARGET", "decide"]

NO_MATCH_TARGET = RejectTarget(reason="unavailable")


def decide(
    candidates: Sequence[CompiledRoute],
    context: MatchContext,
    unavailable: frozenset[str],
    default_target: Target | None,
    numbers_checked: bool = False,
    default_needs: frozenset[str] | None = None,
) -> Decision:
    """Apply the rule to `candidates` (in evaluation order) for the call in `context`.

    `numbers_checked`: every candidate is known to match the dialled number (they come from an index).
    `default_needs`: `requirements(default_target)`, when the caller has it at hand.
    """
    trace: list[TraceEntry] = []
    append = trace.append
    for position, route in enumerate(candidates):
        if not route.enabled:
            append(route.disabled_entry)
            continue
        why_not = None if numbers_checked and route.unconditional else route.why_not(context, numbers_checked)
        if why_not is not None:
            append(route.skipped_entry(why_not))
        elif unavailable.isdisjoint(route.target_needs):
            append(route.matched_entry)
            return _won(route, route.target, route.matched_reason, False, trace, candidates[position + 1 :])
        elif route.fallback is not None and unavailable.isdisjoint(route.fallback_needs):
            append(route.fallback_entry)
            return _won(route, route.fallback, route.fallback_reason, True, trace, candidates[position + 1 :])
        else:
            append(route.unavailable_entry)
    return _without_route(context, unavailable, default_target, default_needs, trace)


def _won(
    winner: CompiledRoute,
    target: Target,
    reason: str,
    used_fallback: bool,
    trace: list[TraceEntry],
    behind: Sequence[CompiledRoute],
) -> Decision:
    for route in behind:
        trace.append(route.lost_entry(winner) if route.enabled else route.disabled_entry)
    return Decision(
        target=target,
        route_id=winner.id,
        reason=reason,
        used_fallback=used_fallback,
        trace=tuple(trace),
        route_name=winner.route.name,
    )


def _without_route(
    context: MatchContext,
    unavailable: frozenset[str],
    default_target: Target | None,
    default_needs: frozenset[str] | None,
    trace: list[TraceEntry],
) -> Decision:
    any_unavailable = any(entry.outcome == "unavailable" for entry in trace)
    reason = "no available route matched" if any_unavailable else "no route matched"
    if context.to_invalid is not None:
        reason += f" (dialled number invalid: {context.to_invalid})"
    if default_target is not None:
        if default_needs is None:
            default_needs = requirements(default_target)
        if unavailable.isdisjoint(default_needs):
            return Decision(
                target=default_target, route_id=None, reason=reason + "; project default", trace=tuple(trace)
            )
        reason += f"; project default {target_label(default_target)} unavailable"
    return Decision(target=NO_MATCH_TARGET, route_id=None, reason=reason, trace=tuple(trace))
