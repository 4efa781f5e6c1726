"""A compiled index over projects' routes: resolving a call evaluates only the few routes that can match.

Per project:
- exact dialled numbers -> a bucket holding every route that can match that number (exact, prefix, range and
  number-less routes, in evaluation order). Buckets with the same routes are shared. When the first enabled
  route of a bucket has no condition besides the number, its decision is computed once at build time.
- prefixes in one dict per prefix length, ranges in a list, number-less routes in a list: a dialled number
  that is not an exact key gathers its candidates from these.

Every decision still comes from `routing.decide.decide`, so the index changes speed, never answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from routing.decide import decide
from routing.matching import CompiledRoute, MatchContext, Shared, requirements
from routing.model import Decision, ProjectRouting, RouteQuery, Target

__all__ = ["ProjectIndex", "RoutingIndex", "UnknownProject", "build_index", "build_project_index"]

_NOTHING: frozenset[str] = frozenset()
_BUILD_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MERGE_MEMO_LIMIT = 65536
"""Distinct combinations of matching pattern groups remembered per project (they are few in practice)."""


class UnknownProject(KeyError):
    """`RoutingIndex.resolve` was asked about a project it was not built with."""


def _sort_key(route: CompiledRoute) -> tuple[int, str, int]:
    return route.sort_key


class _Bucket:
    __slots__ = ("candidates", "static", "static_needs")

    def __init__(self, candidates: tuple[CompiledRoute, ...]) -> None:
        self.candidates = candidates
        self.static: Decision | None = None
        self.static_needs: frozenset[str] = _NOTHING


class ProjectIndex:
    """One project's routes, compiled. Immutable once built; safe to share between threads and calls."""

    def __init__(self, table: ProjectRouting, shared: Shared | None = None) -> None:
        self.project_id = table.project_id
        self.table = table
        self.default_target: Target | None = table.default_target
        self._default_needs = requirements(table.default_target) if table.default_target is not None else None
        self.default_region = table.default_region
        self.trunk_regions = dict(table.trunk_regions)
        shared = shared if shared is not None else Shared()
        compiled = (CompiledRoute(route, i, shared) for i, route in enumerate(table.routes))
        self.routes = tuple(sorted(compiled, key=_sort_key))
        self._catch_all = tuple(r for r in self.routes if r.numbers.matches_any)
        prefix_tables: dict[int, dict[str, list[CompiledRoute]]] = {}
        ranges: list[tuple[str, str, tuple[CompiledRoute]]] = []
        exact: dict[str, CompiledRoute] = {}
        listed_twice: dict[str, list[CompiledRoute]] = {}
        for route in self.routes:
            for prefix in route.numbers.prefixes:
                prefix_tables.setdefault(len(prefix), {}).setdefault(prefix, []).append(route)
            ranges.extend((low, high, (route,)) for low, high in route.numbers.ranges)
            for number in route.numbers.exact_numbers():
                first = exact.setdefault(number, route)
                if first is not route:
                    listed_twice.setdefault(number, [first]).append(route)
        self._prefix_tables = tuple(
            (length, {prefix: tuple(routes) for prefix, routes in table_.items()})
            for length, table_ in sorted(prefix_tables.items())
        )
        self._ranges = tuple(ranges)
        self._merged: dict[tuple[int, ...], tuple[CompiledRoute, ...]] = {}
        self._exact = self._build_buckets(exact, listed_twice)

    def _build_buckets(
        self, exact: dict[str, CompiledRoute], listed_twice: dict[str, list[CompiledRoute]]
    ) -> dict[str, _Bucket]:
        """One bucket per distinct (exact routes, pattern candidates); numbers sharing both share it."""
        shared: dict[tuple[object, int], tuple[_Bucket, tuple[CompiledRoute, ...]]] = {}
        buckets: dict[str, _Bucket] = {}
        for number, route in exact.items():
            pattern = self._pattern_candidates(number)
            routes = listed_twice.get(number)
            key = (route if routes is None else tuple(routes), id(pattern))
            found = shared.get(key)
            if found is None:
                bucket = _Bucket(self._merge(routes or (route,), pattern))
                self._precompute(bucket, number)
                shared[key] = (bucket, pattern)  # holding `pattern` keeps its id() from being reused
            else:
                bucket = found[0]
            buckets[number] = bucket
        return buckets

    def _precompute(self, bucket: _Bucket, number: str) -> None:
        enabled = [route for route in bucket.candidates if route.enabled]
        if enabled and not enabled[0].unconditional:
            return
        context = MatchContext(RouteQuery(to=number, at=_BUILD_TIME), self.default_region, number)
        decision = decide(bucket.candidates, context, _NOTHING, self.default_target)
        bucket.static = decision
        bucket.static_needs = requirements(decision.target)

    @staticmethod
    def _merge(first: Iterable[CompiledRoute], second: Iterable[CompiledRoute]) -> tuple[CompiledRoute, ...]:
        return tuple(sorted(set(first).union(second), key=_sort_key))

    def _pattern_candidates(self, e164: str) -> tuple[CompiledRoute, ...]:
        groups: list[tuple[CompiledRoute, ...]] = []
        for length, table in self._prefix_tables:
            routes = table.get(e164[:length])
            if routes is not None:
                groups.append(routes)
        for low, high, route in self._ranges:
            if len(low) == len(e164) and low <= e164 <= high:
                groups.append(route)
        if not groups:
            return self._catch_all
        key = tuple(map(id, groups))
        merged = self._merged.get(key)
        if merged is None:
            merged = self._merge([route for group in groups for route in group], self._catch_all)
            if len(self._merged) < _MERGE_MEMO_LIMIT:
                self._merged[key] = merged
        return merged

    def candidates(self, e164: str | None) -> tuple[CompiledRoute, ...]:
        """Routes that can match a call to `e164` (None: an invalid dialled number), in evaluation order."""
        if e164 is None:
            return self._catch_all
        bucket = self._exact.get(e164)
        return bucket.candidates if bucket is not None else self._pattern_candidates(e164)

    def region_for(self, trunk: str | None) -> str:
        if trunk is None:
            return self.default_region
        return self.trunk_regions.get(trunk, self.default_region)

    def resolve(self, call: RouteQuery, unavailable: frozenset[str] = _NOTHING) -> Decision:
        """Never raises for bad input: an invalid dialled number is in the reason."""
        bucket = self._exact.get(call.to)
        if bucket is not None:
            static = bucket.static
            if static is not None and (not unavailable or unavailable.isdisjoint(bucket.static_needs)):
                return static
            context = MatchContext(call, self.region_for(call.trunk), call.to)
            candidates = bucket.candidates
        else:
            context = MatchContext(call, self.region_for(call.trunk))
            candidates = self.candidates(context.to_e164)
        return decide(candidates, context, unavailable, self.default_target, True, self._default_needs)

    def explain(self, call: RouteQuery, unavailable: frozenset[str] = _NOTHING) -> Decision:
        """Like `resolve`, but evaluates every route, so the trace covers the whole table."""
        context = MatchContext(call, self.region_for(call.trunk))
        return decide(self.routes, context, unavailable, self.default_target)


class RoutingIndex:
    """Compiled routes of many projects. Replace a project with `with_project` (copy-on-write)."""

    __slots__ = ("_projects",)

    def __init__(self, projects: Mapping[str, ProjectIndex]) -> None:
        self._projects = dict(projects)

    def __contains__(self, project_id: object) -> bool:
        return project_id in self._projects

    def __len__(self) -> int:
        return len(self._projects)

    def project(self, project_id: str) -> ProjectIndex:
        try:
            return self._projects[project_id]
        except KeyError:
            raise UnknownProject(project_id) from None

    def resolve(
        self, project_id: str, call: RouteQuery, *, unavailable: frozenset[str] = _NOTHING
    ) -> Decision:
        project = self._projects.get(project_id)
        if project is None:
            raise UnknownProject(project_id)
        return project.resolve(call, unavailable)

    def with_project(self, table: ProjectRouting) -> RoutingIndex:
        """A new index with `table` compiled in place of that project's previous routes."""
        projects = dict(self._projects)
        projects[table.project_id] = ProjectIndex(table)
        return RoutingIndex(projects)

    def without_project(self, project_id: str) -> RoutingIndex:
        return RoutingIndex({key: value for key, value in self._projects.items() if key != project_id})


def build_project_index(table: ProjectRouting) -> ProjectIndex:
    return ProjectIndex(table)


def build_index(projects: Iterable[ProjectRouting]) -> RoutingIndex:
    """Compile every project's routes; later tables with the same project id replace earlier ones."""
    shared = Shared()
    return RoutingIndex({table.project_id: ProjectIndex(table, shared) for table in projects})
