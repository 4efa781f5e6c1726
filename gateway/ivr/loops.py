"""Find loops a caller could be stuck in without doing anything (pure graph code, over several flows).

A step's links are taken either after caller input or without it (straight away, after silence, on an
HTTP or transfer result). A cycle made only of the second kind can spin forever: those are reported.
Links through `include` come back (`after_include`) only when the included flow can reach a `return`
without caller input. Steps are numbered in file order so the graph work runs on plain lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ivr.flow import Flow
from gateway.ivr.steps import Link, ReturnStep

__all__ = ["Links", "Node", "spin_loops"]

Links = Mapping[str, Mapping[str, list[Link]]]
"""Links by flow id, then step id."""

Node = tuple[str, str]
"""(flow id, step id)"""


class _Graph:
    """Steps of all flows as numbers, with their links taken without caller input."""

    def __init__(self, flows: Mapping[str, Flow], links: Links) -> None:
        self.nodes: list[Node] = []
        self.ids: dict[str, dict[str, int]] = {}
        for flow_id, flow in flows.items():
            local = self.ids[flow_id] = {}
            for step_id in flow.steps:
                local[step_id] = len(self.nodes)
                self.nodes.append((flow_id, step_id))
        self.starts = {flow_id: self.ids[flow_id].get(flow.start) for flow_id, flow in flows.items()}
        self.returns = {
            self.ids[flow_id][step_id]
            for flow_id, flow in flows.items()
            for step_id, step in flow.steps.items()
            if isinstance(step, ReturnStep)
        }
        self.plain: list[list[int]] = [[] for _ in self.nodes]
        self.into: dict[int, list[int]] = {}
        self.back: list[tuple[int, int, str]] = []
        for number, (flow_id, step_id) in enumerate(self.nodes):
            step_links = links[flow_id][step_id]
            included = next((link.flow for link in step_links if link.kind == "include" and link.flow), None)
            for link in step_links:
                if link.kind == "input":
                    continue
                target = self._target(flows, flow_id, link)
                if target is None:
                    continue
                if link.kind == "include":
                    self.into.setdefault(number, []).append(target)
                elif link.kind == "after_include":
                    if included is not None:
                        self.back.append((number, target, included))
                else:
                    self.plain[number].append(target)

    def _target(self, flows: Mapping[str, Flow], flow_id: str, link: Link) -> int | None:
        if link.flow is None:
            return self.ids[flow_id].get(link.target or "")
        other = flows.get(link.flow)
        if other is None:
            return None
        return self.ids[link.flow].get(link.target or other.start)

    def returning(self) -> set[str]:
        """Flows that, once included, can hand control back (reach `return`) without caller input."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            extra = self._after_edges(found)
            for flow_id, start in self.starts.items():
                if flow_id in found or start is None:
                    continue
                seen = {start}
                pending = [start]
                while pending:
                    node = pending.pop()
                    if node in self.returns:
                        found.add(flow_id)
                        changed = True
                        break
                    for successor in self.plain[node] + extra.get(node, []):
                        if successor not in seen:
                            seen.add(successor)
                            pending.append(successor)
        return found

    def _after_edges(self, returning: set[str]) -> dict[int, list[int]]:
        edges: dict[int, list[int]] = {}
        for source, target, included in self.back:
            if included in returning:
                edges.setdefault(source, []).append(target)
        return edges

    def without_input(self) -> list[list[int]]:
        edges = list(self.plain)
        for extra in (self.into, self._after_edges(self.returning())):
            for node, targets in extra.items():
                edges[node] = edges[node] + targets
        return edges


def spin_loops(flows: Mapping[str, Flow], links: Links) -> list[list[Node]]:
    """Each loop once, as the list of steps going round it, starting from its first step in file order."""
    graph = _Graph(flows, links)
    edges = graph.without_input()
    loops = []
    for component in _strongly_connected(edges):
        first = min(component)
        if len(component) > 1 or first in edges[first]:
            loops.append(_cycle_through(first, set(component), edges))
    loops.sort()
    return [[graph.nodes[node] for node in loop] for loop in loops]


def _strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (flows can have thousands of steps); only ints on the hot path."""
    count = len(edges)
    index = [-1] * count
    low = [0] * count
    on_stack = [False] * count
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(count):
        if index[root] != -1:
            continue
        if not edges[root]:
            index[root] = counter
            counter += 1
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work_nodes = [root]
        work_positions = [0]
        while work_nodes:
            node = work_nodes[-1]
            position = work_positions[-1]
            successors = edges[node]
            if position < len(successors):
                work_positions[-1] = position + 1
                successor = successors[position]
                if index[successor] == -1:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack[successor] = True
                    work_nodes.append(successor)
                    work_positions.append(0)
                elif on_stack[successor] and index[successor] < low[node]:
                    low[node] = index[successor]
                continue
            work_nodes.pop()
            work_positions.pop()
            if work_nodes:
                parent = work_nodes[-1]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                member = stack.pop()
                on_stack[member] = False
                if member == node:
                    components.append([member])
                    continue
                component = [member]
                while member != node:
                    member = stack.pop()
                    on_stack[member] = False
                    component.append(member)
                components.append(component)
    return components


def _cycle_through(first: int, members: set[int], edges: list[list[int]]) -> list[int]:
    """A shortest way round from `first` back to itself, inside its component."""
    previous: dict[int, int] = {}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for successor in edges[node]:
                if successor not in members:
                    continue
                if successor == first:
                    path = [node]
                    while path[-1] != first:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    return [first]
