"""A new version of a flow goes live only when the flow's own tests pass (unless failing tests are allowed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.ivr import FlowInvalid, FlowRegistry
from tests.unit.ivr.helpers import SAMPLE_FLOWS

GREETING = "Thank you for calling Acme."


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    for path in SAMPLE_FLOWS.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(SAMPLE_FLOWS / "tests", tmp_path / "tests")
    return tmp_path


def test_the_sample_flows_pass_their_tests_and_are_served(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir, run_flow_tests=True)
    assert registry.load_all() == []
    assert [loaded.id for loaded in registry.all()] == ["main_menu", "support", "voicemail"]


def test_an_edit_that_fails_the_flows_tests_keeps_the_last_good_version(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir, run_flow_tests=True)
    registry.load_all()
    good = registry.get("main_menu")
    assert good is not None
    path = flows_dir / "main_menu.yaml"
    path.write_text(path.read_text().replace(GREETING, "Welcome to Acme."))
    problems = registry.reload([path])
    assert registry.get("main_menu") == good
    errors = [p for p in problems if p.severity == "error"]
    assert errors
    assert all(p.file.endswith("main_menu.yaml") and p.line == 1 for p in errors)
    assert "test 'in hours, the caller presses 1 and reaches the sales assistant'" in errors[0].message
    assert "tests/main_menu.yaml:" in errors[0].message
    assert "expected to hear 'Thank you for calling Acme'" in errors[0].message
    assert errors[0].hint is not None
    assert "last good version keeps serving" in errors[0].hint
    assert any("is not served: calls still get version" in p.message for p in problems)
    path.write_text(path.read_text().replace("Welcome to Acme.", GREETING))
    assert registry.reload([path]) == []


def test_failing_tests_can_be_allowed_and_are_then_warnings(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir, run_flow_tests=True, allow_failing_tests=True)
    registry.load_all()
    path = flows_dir / "main_menu.yaml"
    path.write_text(path.read_text().replace(GREETING, "Welcome to Acme."))
    problems = registry.reload([path])
    served = registry.get("main_menu")
    assert served is not None
    assert "Welcome to Acme." in served.text
    assert problems
    assert {p.severity for p in problems} == {"warning"}


def test_writing_a_version_whose_tests_fail_is_refused_and_nothing_is_written(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir, run_flow_tests=True)
    registry.load_all()
    path = flows_dir / "main_menu.yaml"
    before = path.read_bytes()
    with pytest.raises(FlowInvalid) as refused:
        registry.write("main_menu", before.decode().replace(GREETING, "Welcome to Acme."))
    assert any("fails:" in p.message for p in refused.value.problems)
    assert path.read_bytes() == before


def test_a_flow_whose_tests_fail_at_start_is_not_served(flows_dir: Path) -> None:
    path = flows_dir / "main_menu.yaml"
    path.write_text(path.read_text().replace(GREETING, "Welcome to Acme."))
    registry = FlowRegistry(flows_dir, run_flow_tests=True)
    problems = registry.load_all()
    assert registry.get("main_menu") is None
    assert registry.get("support") is not None
    assert any(p.severity == "error" and "fails:" in p.message for p in problems)


def test_without_the_option_tests_are_not_run(flows_dir: Path) -> None:
    path = flows_dir / "main_menu.yaml"
    path.write_text(path.read_text().replace(GREETING, "Welcome to Acme."))
    registry = FlowRegistry(flows_dir)
    assert registry.load_all() == []
