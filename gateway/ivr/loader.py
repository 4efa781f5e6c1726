"""From file bytes to a served flow: parse, type-check and validate, with every problem placed in the file."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.ivr.conditions import FlowSchedule
from gateway.ivr.flow import Flow, LoadedFlow
from gateway.ivr.positions import SourceMap, place
from gateway.ivr.problems import FlowInvalid, FlowProblem, errors_in
from gateway.ivr.source import decode_yaml
from gateway.ivr.validate import Links, check_flow, check_flows, links_of

__all__ = [
    "FLOW_ID",
    "ParsedFlow",
    "cross_check",
    "display_path",
    "load_flow_text",
    "parse_flow",
    "to_loaded",
    "version_of",
]

FLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
STEPS = "steps"


@dataclass
class ParsedFlow:
    """One file read and checked on its own (`problems`); cross-flow checks come from `cross_check`."""

    flow_id: str
    path: Path
    file: str
    data: bytes
    version: str
    flow: Flow | None
    problems: list[FlowProblem]
    source: SourceMap = field(repr=False)
    links: Links = field(default_factory=dict, repr=False)


def version_of(data: bytes) -> str:
    """Short content hash of a flow file: the version a call records."""
    return hashlib.sha256(data).hexdigest()[:12]


def display_path(path: Path) -> str:
    """The path as an operator would type it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def parse_flow(
    data: bytes,
    *,
    flow_id: str,
    path: Path,
    base_dir: Path | None,
    secrets: frozenset[str] | None = None,
) -> ParsedFlow:
    """`secrets`: the names of the project's flow secrets; None when they are not known (not checked)."""
    file = display_path(path)
    decoded = decode_yaml(data, Flow, file=file, step_key=STEPS)
    problems = list(decoded.problems)
    if not FLOW_ID.match(flow_id):
        problems.append(
            FlowProblem(
                file,
                1,
                1,
                None,
                f"'{flow_id}' is not a valid flow id",
                "name the file with letters, digits, _ and -",
            )
        )
    links = links_of(decoded.value) if decoded.value is not None else {}
    if decoded.value is not None:
        issues = check_flow(decoded.value, base_dir=base_dir, links=links, secrets=secrets)
        problems.extend(place(issue, decoded.source, file=file, step_key=STEPS) for issue in issues)
    flow = decoded.value if not errors_in(problems) else None
    return ParsedFlow(flow_id, path, file, data, version_of(data), flow, problems, decoded.source, links)


def cross_check(
    parsed: Mapping[str, ParsedFlow], served: Mapping[str, LoadedFlow] | None = None
) -> dict[str, list[FlowProblem]]:
    """Problems between flows (missing flows, loops through several flows), by flow id.

    A file that does not parse stands in with its `served` version, if any, so a broken edit does not
    make every flow that links to it look broken too.
    """
    flows: dict[str, Flow] = {}
    links: dict[str, Links] = {}
    for flow_id, item in parsed.items():
        fallback = served.get(flow_id) if served is not None else None
        if item.flow is not None:
            flows[flow_id], links[flow_id] = item.flow, item.links
        elif fallback is not None:
            flows[flow_id], links[flow_id] = fallback.flow, links_of(fallback.flow)
    found = check_flows(flows, links)
    return {
        flow_id: [
            place(issue, parsed[flow_id].source, file=parsed[flow_id].file, step_key=STEPS)
            for issue in issues
        ]
        for flow_id, issues in found.items()
        if issues and parsed[flow_id].flow is not None
    }


def to_loaded(parsed: ParsedFlow, *, loaded_at: datetime | None = None) -> LoadedFlow:
    if parsed.flow is None:
        raise FlowInvalid(parsed.flow_id, parsed.problems)
    return LoadedFlow(
        id=parsed.flow_id,
        version=parsed.version,
        path=parsed.path,
        loaded_at=loaded_at or datetime.now(UTC),
        flow=parsed.flow,
        text=parsed.data.decode("utf-8", errors="replace"),
        schedules={name: FlowSchedule.of(schedule) for name, schedule in parsed.flow.schedules.items()},
        step_lines={
            step_id: parsed.source.mark((STEPS, step_id), at_key=True)[0] for step_id in parsed.flow.steps
        },
    )


def load_flow_text(
    text: str | bytes,
    flow_id: str = "flow",
    *,
    path: Path | None = None,
    base_dir: Path | None = None,
    others: Mapping[str, LoadedFlow] | None = None,
    secrets: frozenset[str] | None = None,
) -> LoadedFlow:
    """Parse and validate one flow (against `others` for cross-flow links); raise `FlowInvalid` on errors."""
    data = text.encode() if isinstance(text, str) else text
    parsed = parse_flow(
        data, flow_id=flow_id, path=path or Path(f"{flow_id}.yaml"), base_dir=base_dir, secrets=secrets
    )
    problems = list(parsed.problems)
    if parsed.flow is not None:
        flows = {name: loaded.flow for name, loaded in (others or {}).items() if name != flow_id}
        flows[flow_id] = parsed.flow
        found = check_flows(flows).get(flow_id, [])
        problems.extend(place(issue, parsed.source, file=parsed.file, step_key=STEPS) for issue in found)
    if errors_in(problems) or parsed.flow is None:
        raise FlowInvalid(flow_id, problems)
    return to_loaded(parsed)
