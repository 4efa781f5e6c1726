"""A flow as a graph (steps and the links between them), for the REST API, Mermaid and Graphviz."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from gateway.ivr.flow import LoadedFlow
from gateway.ivr.steps import (
    BranchStep,
    GatherStep,
    GotoStep,
    HangupStep,
    HttpStep,
    IncludeStep,
    LinkKind,
    MenuStep,
    PlayStep,
    RecordStep,
    SayStep,
    SetStep,
    Step,
    TransferStep,
    step_type,
)

__all__ = ["FlowGraph", "GraphEdge", "GraphNode", "build_graph", "to_dot", "to_mermaid"]

NodeKind = Literal["step", "flow"]
_SUMMARY_LENGTH = 40


class GraphNode(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: NodeKind
    type: str
    label: str
    line: int | None = None
    start: bool = False


class GraphEdge(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    label: str
    kind: LinkKind


class FlowGraph(msgspec.Struct, frozen=True, kw_only=True):
    flow: str
    version: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def build_graph(loaded: LoadedFlow) -> FlowGraph:
    flow = loaded.flow
    nodes = [
        GraphNode(
            id=step_id,
            kind="step",
            type=step_type(step),
            label=summary(step),
            line=loaded.step_lines.get(step_id),
            start=step_id == flow.start,
        )
        for step_id, step in flow.steps.items()
    ]
    edges = []
    external: dict[str, GraphNode] = {}
    for step_id, step in flow.steps.items():
        for link in step.links():
            if link.flow is None:
                target = link.target or flow.start
            else:
                target = f"flow:{link.flow}" + (f":{link.target}" if link.target else "")
                external.setdefault(target, GraphNode(id=target, kind="flow", type="flow", label=target[5:]))
            edges.append(GraphEdge(source=step_id, target=target, label=link.label, kind=link.kind))
    return FlowGraph(
        flow=loaded.id, version=loaded.version, nodes=nodes + list(external.values()), edges=edges
    )


def summary(step: Step) -> str:
    """A few words about what a step does, for node labels."""
    match step:
        case SayStep(text=text):
            return _short(text)
        case PlayStep(url=url):
            return _short(url.rsplit("/", 1)[-1])
        case MenuStep(options=options):
            return "menu " + " ".join(key for key in options if key not in ("_", "timeout"))
        case GatherStep(into=into):
            return f"ask for {into}"
        case BranchStep(cases=cases):
            return f"branch ({plural(len(cases), 'case')})"
        case SetStep(variables=variables):
            return "set " + ", ".join(variables)
        case HttpStep(method=method, url=url):
            return f"{method} {_short(re.sub(r'^https?://', '', url))}"
        case TransferStep(number=number, sip=sip):
            return f"transfer to {'number ' + number if number else sip or step.target_label}"
        case RecordStep(max_length=max_length):
            return f"record up to {max_length}s"
        case GotoStep(flow=flow, step=target):
            return f"go to {'flow ' + flow if flow else target}" + (
                f" at {target}" if flow and target else ""
            )
        case IncludeStep(flow=flow):
            return f"include flow {flow}"
        case HangupStep(reason=reason, reject=reject):
            return f"reject ({reject})" if reject else f"hang up ({reason})"
    return step_type(step)


def plural(count: int, noun: str) -> str:
    """``1 case``, ``3 cases``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SUMMARY_LENGTH else flat[: _SUMMARY_LENGTH - 1] + "…"


def _mermaid_id(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


# Legend ids hold '-' (mermaid) or ':' (dot), which node ids never do after `_mermaid_id` or in a step id.
_MERMAID_LEGEND = [
    '    subgraph legend-key["Legend"]',
    '        legend-start(["first step"])',
    '        legend-step["step id: what it does"]',
    '        legend-flow{{"another flow"}}',
    '        legend-from[" "] -->|"the caller chose"| legend-to[" "]',
    '        legend-auto-from[" "] -.->|"automatic: next, condition, result"| legend-auto-to[" "]',
    "    end",
]


def to_mermaid(graph: FlowGraph, *, legend: bool = True) -> str:
    lines = ["flowchart TD"]
    for node in graph.nodes:
        label = _mermaid_text(f"{node.id}: {node.label}" if node.kind == "step" else f"flow {node.label}")
        shape = (
            f'(["{label}"])'
            if node.start
            else f'{{{{"{label}"}}}}'
            if node.kind == "flow"
            else f'["{label}"]'
        )
        lines.append(f"    {_mermaid_id(node.id)}{shape}")
    for edge in graph.edges:
        arrow = "-->" if edge.kind == "input" else "-.->"
        lines.append(
            f'    {_mermaid_id(edge.source)} {arrow}|"{_mermaid_text(edge.label)}"| {_mermaid_id(edge.target)}'
        )
    if legend:
        lines.extend(_MERMAID_LEGEND)
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


_DOT_LEGEND = [
    "    subgraph cluster_legend {",
    '        label="Legend"; fontsize=10;',
    '        "legend:start" [label="first step", style=bold];',
    '        "legend:step" [label="step id\\nwhat it does"];',
    '        "legend:flow" [label="another flow", shape=folder];',
    '        "legend:from" [label="", width=0.2]; "legend:to" [label="", width=0.2];',
    '        "legend:from" -> "legend:to" [label="the caller chose"];',
    '        "legend:auto-from" [label="", width=0.2]; "legend:auto-to" [label="", width=0.2];',
    '        "legend:auto-from" -> "legend:auto-to" [label="automatic: next, condition, result", style=dashed];',
    "    }",
]


def to_dot(graph: FlowGraph, *, legend: bool = True) -> str:
    lines = [f'digraph "{_dot_text(graph.flow)}" {{', "    rankdir=TB;", "    node [shape=box];"]
    for node in graph.nodes:
        label = (
            f"{node.id}\\n{_dot_text(node.label)}" if node.kind == "step" else f"flow {_dot_text(node.label)}"
        )
        attrs = [f'label="{label}"']
        if node.start:
            attrs.append("style=bold")
        if node.kind == "flow":
            attrs.append("shape=folder")
        lines.append(f'    "{_dot_text(node.id)}" [{", ".join(attrs)}];')
    for edge in graph.edges:
        style = "" if edge.kind == "input" else ", style=dashed"
        lines.append(
            f'    "{_dot_text(edge.source)}" -> "{_dot_text(edge.target)}" [label="{_dot_text(edge.label)}"{style}];'
        )
    if legend:
        lines.extend(_DOT_LEGEND)
    lines.append("}")
    return "\n".join(lines) + "\n"
