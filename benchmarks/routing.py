"""Routing benchmark: 1,000 projects, 1,000,000 routed numbers, 10,000 pattern / caller rules.

Measures index build time, `RoutingIndex.resolve` latency (p50/p99 in microseconds, each call timed alone with
time.perf_counter_ns over a random mix of exact-number hits, pattern hits and misses), a plain dict lookup
timed the same way in the same run, their ratio, and peak RSS. The last line is one JSON object.

    .venv/bin/python benchmarks/routing.py [--projects 1000] [--calls 200000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routing.index import build_index
from routing.model import (
    AgentTarget,
    CallerMatch,
    FlowTarget,
    Match,
    OpeningHours,
    ProjectRouting,
    RejectTarget,
    Route,
    RouteQuery,
    Schedule,
    ScheduleMatch,
    Target,
    VoicemailTarget,
)

NUMBERS_PER_PROJECT = 1_000
EXACT_ROUTES_PER_PROJECT = 10
PATTERN_RULES_PER_PROJECT = 10
OFFICE = Schedule(
    timezone="America/New_York",
    weekly=[OpeningHours(days=["mon", "tue", "wed", "thu", "fri"], open="09:00", close="17:30")],
)
CALLERS = ["+12015550123", "+441614960000", "+33612345678", "+15147654321", "anonymous", "+4930123456"]


def block(project: int) -> str:
    """The project's 8-digit number block: +1 AAA PP, then 5 digits (exact numbers use 00000-00999)."""
    return f"+1{201 + project // 100:03d}{project % 100:02d}"


def project_table(project: int) -> ProjectRouting:
    base = block(project)
    per_route = NUMBERS_PER_PROJECT // EXACT_ROUTES_PER_PROJECT
    routes = [
        Route(
            id=f"did-{r}",
            priority=50,
            target=AgentTarget(agent=f"agent-{r}", overrides={"tier": r}),
            fallback=VoicemailTarget() if r % 3 == 0 else None,
            match=Match(numbers=[f"{base}00{r * per_route + i:03d}" for i in range(per_route)]),
        )
        for r in range(EXACT_ROUTES_PER_PROJECT)
    ]
    patterns = [
        Match(numbers=[f"{base}1*"], caller=CallerMatch(prefixes=["+44*"])),
        Match(numbers=[f"{base}1*"], caller=CallerMatch(countries=["FR", "DE"])),
        Match(numbers=[f"{base}1*"]),
        Match(numbers=[f"{base}2*"], schedule=ScheduleMatch(schedule=OFFICE)),
        Match(numbers=[f"{base}2*"], headers={"X-Campaign": "spring-*"}),
        Match(numbers=[f"{base}3*"], caller=CallerMatch(withheld="only")),
        Match(number_ranges=[(f"{base}30000", f"{base}34999")]),
        Match(numbers=[f"{base}4*"], caller=CallerMatch(deny=["+12015550123"], withheld="exclude")),
        Match(numbers=[f"{base}00*"], caller=CallerMatch(allow=["+33612345678"])),
        Match(caller=CallerMatch(prefixes=["+49*"]), trunks=["ST_blocked"]),
    ]
    targets: list[Target] = [FlowTarget(flow="uk"), FlowTarget(flow="eu"), AgentTarget(agent="front-desk")]
    routes += [
        Route(
            id=f"pattern-{r}",
            priority=10 + r,
            match=match,
            target=targets[r % 3] if r != 9 else RejectTarget(reason="declined"),
        )
        for r, match in enumerate(patterns)
    ]
    assert len(patterns) == PATTERN_RULES_PER_PROJECT
    return ProjectRouting(
        project_id=f"p{project}", default_region="US", default_target=FlowTarget(flow="main"), routes=routes
    )


def make_calls(projects: int, count: int, seed: int = 7) -> list[tuple[str, RouteQuery]]:
    rng = random.Random(seed)
    start = datetime(2025, 3, 3, tzinfo=UTC)
    times = [start + timedelta(minutes=10 * slot) for slot in range(14 * 24 * 6)]
    header_sets: list[dict[str, str]] = [{}, {"X-Campaign": "spring-1"}, {"X-Campaign": "autumn"}]
    calls = []
    for _ in range(count):
        project = rng.randrange(projects)
        base = block(project)
        kind = rng.random()
        if kind < 0.4:
            to = f"{base}00{rng.randrange(NUMBERS_PER_PROJECT):03d}"
        elif kind < 0.8:
            to = f"{base}{rng.randrange(1, 5)}{rng.randrange(10_000):04d}"
        else:
            to = f"{base}{rng.randrange(5, 10)}{rng.randrange(10_000):04d}"
        headers = header_sets[rng.choice((0, 0, 0, 0, 0, 1, 2))]
        at = rng.choice(times)
        calls.append((f"p{project}", RouteQuery(to=to, from_=rng.choice(CALLERS), headers=headers, at=at)))
    return calls


def percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--projects", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()

    started = time.perf_counter()
    tables = [project_table(p) for p in range(args.projects)]
    generated = time.perf_counter() - started
    numbers = sum(len(r.match.numbers) for t in tables for r in t.routes if r.id.startswith("did-"))
    rules = sum(1 for t in tables for r in t.routes if r.id.startswith("pattern-"))

    started = time.perf_counter()
    index = build_index(tables)
    build_s = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # the index is long-lived: keep it out of the collector's generations, as the gateway should

    calls = make_calls(args.projects, args.calls)
    plain = {
        number: route.id
        for table in tables
        for route in table.routes
        if route.id.startswith("did-")
        for number in route.match.numbers
    }
    lookup = plain.get
    resolve = index.resolve
    clock = time.perf_counter_ns
    for project_id, call in calls[:5000]:
        resolve(project_id, call)

    resolve_ns: list[int] = []
    dict_ns: list[int] = []
    outcomes = {"route": 0, "default": 0}
    for project_id, call in calls:
        t0 = clock()
        decision = resolve(project_id, call)
        t1 = clock()
        lookup(call.to)
        t2 = clock()
        resolve_ns.append(t1 - t0)
        dict_ns.append(t2 - t1)
        outcomes["route" if decision.route_id is not None else "default"] += 1

    resolve_p50, resolve_p99 = percentiles(resolve_ns)
    dict_p50, dict_p99 = percentiles(dict_ns)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "benchmark": "routing",
        "projects": args.projects,
        "numbers": numbers,
        "pattern_rules": rules,
        "calls": len(calls),
        "generate_s": round(generated, 2),
        "build_s": round(build_s, 2),
        "resolve_p50_us": resolve_p50,
        "resolve_p99_us": resolve_p99,
        "resolve_mean_us": round(statistics.fmean(resolve_ns) / 1000, 3),
        "dict_p50_us": dict_p50,
        "dict_p99_us": dict_p99,
        "ratio_p50": round(resolve_p50 / dict_p50, 1),
        "ratio_p99": round(resolve_p99 / dict_p99, 1),
        "routed_by_rule": outcomes["route"],
        "routed_by_default": outcomes["default"],
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(
        f"data: {args.projects} projects, {numbers:,} numbers, {rules:,} pattern/caller rules "
        f"(generated in {generated:.2f} s)"
    )
    print(f"build: {build_s:.2f} s (then gc.freeze()); peak RSS {peak_mb:.0f} MB")
    print("calls: 40% exact-number hits, 40% pattern numbers, 20% numbers no rule lists; mixed callers/times")
    print(f"resolve: p50 {resolve_p50:.2f} us, p99 {resolve_p99:.2f} us over {len(calls):,} calls")
    print(
        f"dict lookup: p50 {dict_p50:.2f} us, p99 {dict_p99:.2f} us; ratio p50 {result['ratio_p50']}x, "
        f"p99 {result['ratio_p99']}x"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
