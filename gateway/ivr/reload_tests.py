"""A new version of a flow runs the flow's own tests (`<flows>/tests/*.yaml` with `flow: <id>`) before it goes live.

A failing test is reported like a lint error of the flow file, so the registry keeps serving the last good version
(and `PUT /v1/flows/{id}` refuses the text); with `TRUNKLINE_FLOWS_ALLOW_FAILING_TESTS` it is a warning and the new
version is served anyway.
"""

from __future__ import annotations

from pathlib import Path

from gateway.ivr.flowtests import find_test_files, load_test_file, run_test_file
from gateway.ivr.loader import display_path
from gateway.ivr.problems import FlowProblem
from gateway.ivr.run import FlowLookup
from gateway.ivr.schema import TESTS_DIR

__all__ = ["failing_tests"]


def failing_tests(
    flows_dir: Path, flow_id: str, flow_file: str, flows: FlowLookup, *, allowed: bool
) -> list[FlowProblem]:
    """`flow_id`'s tests run against `flows` (the versions about to be served); one problem per failing test."""
    tests_dir = flows_dir / TESTS_DIR
    if not tests_dir.is_dir():
        return []
    hint = (
        "served anyway: TRUNKLINE_FLOWS_ALLOW_FAILING_TESTS is on"
        if allowed
        else "fix the flow or its test (`trunkline flows test`); the last good version keeps serving"
    )
    problems = []
    for path in find_test_files([tests_dir]):
        suite, _, source = load_test_file(path)
        if suite is None or suite.flow != flow_id:
            continue
        for result in run_test_file(suite, flows, file=display_path(path), source=source):
            if result.passed:
                continue
            message = (
                f"test '{result.name}' ({result.file}:{result.line}) fails: {'; '.join(result.failures)}"
            )
            problems.append(
                FlowProblem(flow_file, 1, 1, None, message, hint, "warning" if allowed else "error")
            )
    return problems
