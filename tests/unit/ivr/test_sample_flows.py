"""The committed flows, their tests and their schemas: what operators and editors see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.ivr import FlowRegistry
from gateway.ivr.flowtests import find_test_files, load_test_file, run_test_file
from gateway.ivr.schema import flow_schema, flow_tests_schema, render_schema
from tests.unit.ivr.helpers import SAMPLE_FLOWS

REGISTRY = FlowRegistry(SAMPLE_FLOWS)
REGISTRY.load_all()


def test_sample_flows_are_valid() -> None:
    assert [str(problem) for problem in REGISTRY.problems] == []
    assert {flow.id for flow in REGISTRY.all()} == {"main_menu", "support", "voicemail"}


@pytest.mark.parametrize("path", sorted(SAMPLE_FLOWS.glob("*.yaml")), ids=lambda path: path.name)
def test_each_flow_points_editors_at_the_schema(path: Path) -> None:
    assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=./schema.json"


@pytest.mark.parametrize("path", find_test_files([SAMPLE_FLOWS / "tests"]), ids=lambda path: path.name)
def test_flow_tests_pass(path: Path) -> None:
    suite, problems, source = load_test_file(path)
    assert problems == []
    assert suite is not None
    assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=./schema.json"
    results = run_test_file(suite, REGISTRY, file=str(path), source=source)
    assert [str(result) for result in results if not result.passed] == []
    assert len(results) >= 3


def test_every_sample_flow_has_tests() -> None:
    tested = set()
    for path in find_test_files([SAMPLE_FLOWS / "tests"]):
        suite, _, _ = load_test_file(path)
        assert suite is not None
        tested.add(suite.flow)
    assert tested == {flow.id for flow in REGISTRY.all()}


def test_committed_schemas_are_the_generated_ones() -> None:
    assert (SAMPLE_FLOWS / "schema.json").read_text() == render_schema(flow_schema())
    assert (SAMPLE_FLOWS / "tests" / "schema.json").read_text() == render_schema(flow_tests_schema())


def test_schema_describes_steps_for_editors() -> None:
    schema = json.loads((SAMPLE_FLOWS / "schema.json").read_text())
    menu = schema["$defs"]["MenuStep"]
    assert menu["properties"]["type"] == {"enum": ["menu"]}
    assert menu["additionalProperties"] is False
    assert "timeout" in menu["properties"]["options"]["description"]
    assert set(menu["required"]) == {"type", "greeting", "options"}
