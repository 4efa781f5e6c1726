"""Checks on a typed flow that its types cannot express: references, reachability, templates, numbers.

`check_flow` looks at one flow alone; `check_flows` at a set of flows together: references to other flows,
steps no call can reach (another flow's `goto` may be the way in), and loops that can spin without caller
input (they may run through several flows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from gateway.ivr.flow import Flow
from gateway.ivr.loops import Node, spin_loops
from gateway.ivr.problems import FieldPath, Issue, did_you_mean
from gateway.ivr.state import BUILTIN_VARIABLES
from gateway.ivr.steps import CheckContext, HttpStep, Link
from gateway.ivr.templates import SECRET_PREFIX, VARIABLE_NAME, TemplateError, variables_in
from routing.numbers import InvalidNumber, normalize

__all__ = ["Links", "check_flow", "check_flows", "links_of"]

STEP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


Links = dict[str, list[Link]]
"""A flow's links, by step id (computed once per parsed file: the whole-set checks reuse them)."""


def links_of(flow: Flow) -> Links:
    return {step_id: step.links() for step_id, step in flow.steps.items()}


def check_flow(
    flow: Flow,
    *,
    base_dir: Path | None,
    links: Links | None = None,
    secrets: frozenset[str] | None = None,
) -> list[Issue]:
    """`secrets`: the names of the project's flow secrets (None: unknown here, so not checked)."""
    links = links if links is not None else links_of(flow)
    issues: list[Issue] = []
    context = CheckContext(frozenset(flow.schedules), base_dir)
    known = set(BUILTIN_VARIABLES) | set(flow.variables)
    for step in flow.steps.values():
        known.update(name for _, name in step.assigns())
    if flow.start not in flow.steps:
        issues.append(
            Issue(("start",), f"start step '{flow.start}' does not exist", _closest(flow.start, flow.steps))
        )
    for name in flow.variables:
        issues.extend(_check_assignable(("variables", name), name))
    for step_id, step in flow.steps.items():
        at = ("steps", step_id)
        if not STEP_ID.match(step_id):
            issues.append(
                Issue(at, f"'{step_id}' is not a valid step id", "use letters, digits, _ and -", at_key=True)
            )
        for link in links[step_id]:
            if link.flow is None and link.target is not None and link.target not in flow.steps:
                hint = _closest(link.target, flow.steps)
                issues.append(Issue((*at, *link.field), f"'{link.target}' is not a step of this flow", hint))
        issues.extend(
            _check_templates(at, step.texts(), known, secrets, secrets_allowed=isinstance(step, HttpStep))
        )
        issues.extend(_check_names(at, step.variables_read(), known))
        for path, name in step.assigns():
            issues.extend(_check_assignable((*at, *path), name))
        for path, number in step.numbers():
            issues.extend(_check_number((*at, *path), number))
        issues.extend(
            Issue((*at, *i.path), i.message, i.hint, i.severity, i.at_key) for i in step.check(context)
        )
    return issues


def check_flows(
    flows: Mapping[str, Flow], links: Mapping[str, Links] | None = None
) -> dict[str, list[Issue]]:
    """Problems that need the whole set: links to other flows, and loops without caller input."""
    if links is None:
        links = {flow_id: links_of(flow) for flow_id, flow in flows.items()}
    issues: dict[str, list[Issue]] = {flow_id: [] for flow_id in flows}
    for flow_id in flows:
        for step_id, step_links in links[flow_id].items():
            for link in step_links:
                if link.flow is None:
                    continue
                path = ("steps", step_id, *link.field)
                other = flows.get(link.flow)
                if other is None:
                    issues[flow_id].append(
                        Issue(path, f"flow '{link.flow}' does not exist", _closest(link.flow, flows))
                    )
                elif link.target is not None and link.target not in other.steps:
                    hint = _closest(link.target, other.steps)
                    issues[flow_id].append(
                        Issue(path, f"flow '{link.flow}' has no step '{link.target}'", hint)
                    )
    entries: dict[str, set[str]] = {flow_id: set() for flow_id in flows}
    for flow_links in links.values():
        for step_links in flow_links.values():
            for link in step_links:
                if link.flow in entries and link.target is not None:
                    entries[link.flow].add(link.target)
    for flow_id, flow in flows.items():
        issues[flow_id].extend(_unreachable(flow, links[flow_id], entries[flow_id]))
    for loop in spin_loops(flows, links):
        for flow_id in dict.fromkeys(node[0] for node in loop):
            start = next(index for index, node in enumerate(loop) if node[0] == flow_id)
            turned = [*loop[start:], *loop[:start]]
            described = " -> ".join(_node_label(node, flow_id) for node in [*turned, turned[0]])
            issues[flow_id].append(
                Issue(
                    ("steps", turned[0][1]),
                    f"these steps can loop forever without the caller doing anything: {described}",
                    "let the caller choose somewhere in the loop (menu, gather), or end it (transfer, hangup)",
                    at_key=True,
                )
            )
    return issues


def _node_label(node: Node, home: str) -> str:
    return node[1] if node[0] == home else f"{node[0]}:{node[1]}"


def _closest(word: str, choices: Iterable[str]) -> str | None:
    names = sorted(choices)
    return did_you_mean(word, names) or (f"known: {', '.join(names[:12])}" if names else None)


def _check_templates(
    at: FieldPath,
    texts: Iterable[tuple[FieldPath, str]],
    known: set[str],
    secrets: frozenset[str] | None,
    *,
    secrets_allowed: bool,
) -> list[Issue]:
    issues = []
    for path, template in texts:
        try:
            names = variables_in(template)
        except TemplateError as error:
            issues.append(Issue((*at, *path), str(error)))
            continue
        variables = [(path, name) for name in names if not name.startswith(SECRET_PREFIX)]
        issues.extend(_check_names(at, variables, known, in_template=True))
        for name in names:
            if name.startswith(SECRET_PREFIX):
                issues.extend(
                    _check_secret((*at, *path), name.removeprefix(SECRET_PREFIX), secrets, secrets_allowed)
                )
    return issues


def _check_secret(path: FieldPath, name: str, secrets: frozenset[str] | None, allowed: bool) -> list[Issue]:
    within = rf"\{{\{{\s*(secret\.{re.escape(name)})\s*\}}\}}"
    if not allowed:
        return [
            Issue(
                path,
                f"secret '{name}' cannot be used here: secrets go only into an http step's url, headers or body",
                "a secret is never spoken, shown or stored in a variable",
                within=within,
            )
        ]
    if secrets is not None and name not in secrets:
        hint = did_you_mean(name, sorted(secrets)) or f"create it with PUT /v1/flow-secrets/{name}"
        return [Issue(path, f"unknown secret '{name}'", hint, within=within)]
    return []


def _check_names(
    at: FieldPath, names: Iterable[tuple[FieldPath, str]], known: set[str], *, in_template: bool = False
) -> list[Issue]:
    issues = []
    for path, name in names:
        if name not in known:
            hint = did_you_mean(name, sorted(known)) or "declare it under `variables:` at the top of the flow"
            within = rf"\{{\{{\s*({re.escape(name)})\s*\}}\}}" if in_template else None
            issues.append(Issue((*at, *path), f"unknown variable '{name}'", hint, within=within))
    return issues


def _check_assignable(path: FieldPath, name: str) -> list[Issue]:
    if name in BUILTIN_VARIABLES:
        return [
            Issue(
                path, f"'{name}' is set by the call and cannot be changed", "pick another name", at_key=True
            )
        ]
    if not VARIABLE_NAME.match(name):
        return [
            Issue(path, f"'{name}' is not a valid variable name", "use letters, digits and _", at_key=True)
        ]
    return []


def _check_number(path: FieldPath, number: str) -> list[Issue]:
    try:
        e164 = normalize(number, None).e164
    except InvalidNumber as error:
        return [
            Issue(
                path,
                f"'{number}' is not a valid phone number ({error.reason})",
                "write it in E.164 form: + country code and number, e.g. +442079460000",
            )
        ]
    if e164 != number:
        return [Issue(path, f"write the number as {e164}", "E.164 form: no spaces or punctuation")]
    return []


def _unreachable(flow: Flow, links: Links, entries: set[str]) -> list[Issue]:
    """Steps no caller can reach from the start (or from another flow's `goto ... step`)."""
    roots = {flow.start, *entries} & set(flow.steps)
    seen = set(roots)
    pending = list(roots)
    while pending:
        for link in links[pending.pop()]:
            if link.flow is None and link.target in flow.steps and link.target not in seen:
                seen.add(link.target)
                pending.append(link.target)
    return [
        Issue(
            ("steps", step_id),
            f"step '{step_id}' can never be reached",
            f"link to it from another step (e.g. `next: {step_id}`) or delete it",
            "warning",
            at_key=True,
        )
        for step_id in flow.steps
        if step_id not in seen
    ]
