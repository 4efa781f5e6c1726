"""Which routes can interact with a route: an index of a project's routes by the numbers they match, changed one
route at a time.

Route A can shadow route B (match every call B matches) only if every number B matches is one A matches too, so a
route is only ever compared with the routes that share one of its numbers, prefixes or ranges (and with the routes
that match any number). Saving one route into a table of 10,000 then looks at a handful of routes, not at all of
them; `routing.validate` makes the final call on each candidate, so the index changes speed, never answers.

Exact numbers and prefixes are also kept sorted, so "every number under this prefix or inside this range" is a
slice of a sorted list. Ranges are few in practice and are scanned.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

from routing.matching import CompiledRoute, Shared
from routing.model import Route

__all__ = ["RouteNeighbours"]


def _sort_key(route: CompiledRoute) -> tuple[int, str, int]:
    return route.sort_key


class _SortedKeys:
    """Keys -> the routes that list them, with the keys kept sorted for prefix and range slices."""

    __slots__ = ("_keys", "_routes")

    def __init__(self) -> None:
        self._routes: dict[str, set[CompiledRoute]] = {}
        self._keys: list[str] = []

    def add(self, key: str, route: CompiledRoute) -> None:
        routes = self._routes.get(key)
        if routes is None:
            routes = self._routes[key] = set()
            insort(self._keys, key)
        routes.add(route)

    def discard(self, key: str, route: CompiledRoute) -> None:
        routes = self._routes.get(key)
        if routes is None:
            return
        routes.discard(route)
        if not routes:
            del self._routes[key]
            del self._keys[bisect_left(self._keys, key)]

    def at(self, key: str) -> set[CompiledRoute]:
        return self._routes.get(key, set())

    def between(self, low: str, high: str | None) -> Iterator[str]:
        """Keys `low` <= key < `high` (no upper bound when `high` is None)."""
        keys = self._keys
        end = len(keys) if high is None else bisect_left(keys, high)
        for position in range(bisect_left(keys, low), end):
            yield keys[position]

    def starting_with(self, prefix: str) -> Iterator[str]:
        return self.between(prefix, _next_prefix(prefix))


def _next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix` (digits after a "+")."""
    digits = prefix.rstrip("9")
    if len(digits) <= 1:  # "+", "+9", "+99...": every greater number starts with the prefix
        return None
    return digits[:-1] + chr(ord(digits[-1]) + 1)


class RouteNeighbours:
    """A project's routes, compiled and indexed by number; `put` and `remove` change one route."""

    def __init__(self, routes: Iterable[Route] = (), shared: Shared | None = None) -> None:
        self._shared = shared if shared is not None else Shared()
        self._by_id: dict[str, CompiledRoute] = {}
        self._any: set[CompiledRoute] = set()
        self._exact = _SortedKeys()
        self._prefixes = _SortedKeys()
        self._ranged: set[CompiledRoute] = set()
        self._added = 0
        for route in routes:
            self.put(route)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[CompiledRoute]:
        return iter(self._by_id.values())

    def get(self, route_id: str) -> CompiledRoute | None:
        return self._by_id.get(route_id)

    def compile(self, route: Route) -> CompiledRoute:
        """`route` compiled as the newest route of the table (not added: see `put`)."""
        return CompiledRoute(route, self._added, self._shared)

    def put(self, route: Route) -> CompiledRoute:
        """Add `route`, or replace the route with its id."""
        self.remove(route.id)
        compiled = self.compile(route)
        self.add(compiled)
        return compiled

    def add(self, route: CompiledRoute) -> None:
        """Index an already compiled route (a table may list one id twice: `validate` reports it)."""
        self._added += 1
        self._by_id[route.id] = route
        numbers = route.numbers
        if numbers.matches_any:
            self._any.add(route)
            return
        for number in numbers.exact_numbers():
            self._exact.add(number, route)
        for prefix in numbers.prefixes:
            self._prefixes.add(prefix, route)
        if numbers.ranges:
            self._ranged.add(route)

    def remove(self, route_id: str) -> None:
        route = self._by_id.pop(route_id, None)
        if route is None:
            return
        self._any.discard(route)
        self._ranged.discard(route)
        for number in route.numbers.exact_numbers():
            self._exact.discard(number, route)
        for prefix in route.numbers.prefixes:
            self._prefixes.discard(prefix, route)

    def covering(self, route: CompiledRoute) -> list[CompiledRoute]:
        """Routes that may match every number `route` matches, in evaluation order (`route` itself included when
        indexed). A route that does match them all is always in the list."""
        found = set(self._any)
        numbers = route.numbers
        if not numbers.matches_any:
            # A cover must match one number (or prefix, or range start) of `route` in particular: any will do.
            probe = next(numbers.exact_numbers(), None)
            if probe is None:
                probe = numbers.prefixes[0] if numbers.prefixes else numbers.ranges[0][0]
            found.update(self._containing(probe))
        return sorted(found, key=_sort_key)

    def _containing(self, number: str) -> Iterator[CompiledRoute]:
        yield from self._exact.at(number)
        for length in range(2, len(number) + 1):
            yield from self._prefixes.at(number[:length])
        for route in self._ranged:
            if any(len(low) == len(number) and low <= number <= high for low, high in route.numbers.ranges):
                yield route

    def covered(self, route: CompiledRoute) -> list[CompiledRoute]:
        """Routes whose numbers may all be matched by `route`, in evaluation order (`route` itself included when
        indexed). A route whose numbers `route` does match is always in the list."""
        numbers = route.numbers
        if numbers.matches_any:
            return sorted(self._by_id.values(), key=_sort_key)
        found: set[CompiledRoute] = set()
        for number in numbers.exact_numbers():
            found.update(self._exact.at(number))
        for prefix in numbers.prefixes:
            for number in self._exact.starting_with(prefix):
                found.update(self._exact.at(number))
            for inner in self._prefixes.starting_with(prefix):
                found.update(self._prefixes.at(inner))
        for low, high in numbers.ranges:
            for number in self._exact.between(low, high + "0"):
                if len(number) == len(low):
                    found.update(self._exact.at(number))
        if numbers.prefixes or numbers.ranges:
            found.update(other for other in self._ranged if _range_inside(other, route))
        return sorted(found, key=_sort_key)


def _range_inside(inner: CompiledRoute, outer: CompiledRoute) -> bool:
    """True when one of `inner`'s ranges starts inside one of `outer`'s prefixes or ranges."""
    for low, _high in inner.numbers.ranges:
        if any(low.startswith(prefix) for prefix in outer.numbers.prefixes):
            return True
        if any(len(a) == len(low) and a <= low <= b for a, b in outer.numbers.ranges):
            return True
    return False
