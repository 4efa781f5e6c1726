"""Find loops a caller could be stuck in without doing anything (pure graph code, over several flows).

A step's links are taken either after caller input or without it (straight away, after silence, on an
HTTP or transfer result). A cycle made only of the second kind can spin forever: those are reported.
Links through `include` come back (`after_include`) only when the included flow can reach a `return`
without caller input.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ivr.flow import Flow
from gateway.ivr.steps import ReturnStep

__all__ = ["Node", "spin_loops"]

Node = tuple[str, str]
"""(flow id, step id)"""


def spin_loops(flows: Mapping[str, Flow]) -> list[list[Node]]:
    """Each loop once, as the list of steps going round it, starting from its first step in file order."""
    returning = _flows_returning_without_input(flows)
    graph = {node: _successors(flows, node, returning) for node in _nodes(flows)}
    order = {node: index for index, node in enumerate(graph)}
    loops = []
    for component in _strongly_connected(graph):
        first = min(component, key=order.__getitem__)
        if len(component) > 1 or first in graph[first]:
            loops.append(_cycle_through(first, set(component), graph))
    loops.sort(key=lambda loop: order[loop[0]])
    return loops


def _nodes(flows: Mapping[str, Flow]) -> list[Node]:
    return [(flow_id, step_id) for flow_id, flow in flows.items() for step_id in flow.steps]


def _successors(flows: Mapping[str, Flow], node: Node, returning: Mapping[str, bool]) -> list[Node]:
    flow_id, step_id = node
    links = flows[flow_id].steps[step_id].links()
    included = [link.flow for link in links if link.kind == "include"]
    out = []
    for link in links:
        if link.kind == "input":
            continue
        if link.kind == "after_include" and not any(returning.get(name or "", False) for name in included):
            continue
        target_flow = link.flow or flow_id
        other = flows.get(target_flow)
        if other is None:
            continue
        target = link.target or other.start
        if target in other.steps:
            out.append((target_flow, target))
    return out


def _flows_returning_without_input(flows: Mapping[str, Flow]) -> dict[str, bool]:
    """Which flows, once included, can hand control back (reach `return`) without caller input."""
    returning = dict.fromkeys(flows, False)
    changed = True
    while changed:
        changed = False
        for flow_id, flow in flows.items():
            if returning[flow_id] or flow.start not in flow.steps:
                continue
            seen = {(flow_id, flow.start)}
            pending = [(flow_id, flow.start)]
            while pending:
                node = pending.pop()
                if isinstance(flows[node[0]].steps[node[1]], ReturnStep):
                    returning[flow_id] = changed = True
                    break
                for successor in _successors(flows, node, returning):
                    if successor not in seen and not _enters_include(flows, node, successor):
                        seen.add(successor)
                        pending.append(successor)
    return returning


def _enters_include(flows: Mapping[str, Flow], node: Node, successor: Node) -> bool:
    """An `include` link: its `return` steps come back to the includer, not to whoever included us."""
    links = flows[node[0]].steps[node[1]].links()
    return any(link.kind == "include" and link.flow == successor[0] for link in links)


def _strongly_connected(graph: Mapping[Node, list[Node]]) -> list[list[Node]]:
    """Tarjan's algorithm, iterative (flows can have thousands of steps)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    components: list[list[Node]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_through(first: Node, members: set[Node], graph: Mapping[Node, list[Node]]) -> list[Node]:
    """A shortest way round from `first` back to itself, inside its component."""
    previous: dict[Node, Node] = {}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for successor in graph[node]:
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
