"""Flows on disk: load, shadow broken edits with the last good version, write atomically, watch for changes."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from gateway.errors import NotFound
from gateway.ivr import FlowInUse, FlowInvalid, FlowRegistry
from gateway.ivr.loader import version_of
from tests.unit.ivr.helpers import SAMPLE_FLOWS

HELLO = "start: hi\nsteps:\n  hi: { type: hangup, prompt: Hello }\n"
BROKEN = "start: hi\nsteps:\n  hi: { type: hangup, promt: Hello }\n"


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    for path in SAMPLE_FLOWS.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_sample_flows_load_without_problems(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    assert registry.load_all() == []
    assert [loaded.id for loaded in registry.all()] == ["main_menu", "support", "voicemail"]
    loaded = registry.get("support")
    assert loaded is not None
    assert loaded.version == version_of((flows_dir / "support.yaml").read_bytes())
    assert loaded.path == flows_dir / "support.yaml"
    assert loaded.loaded_at.tzinfo is not None
    assert registry.get("nope") is None


def test_a_broken_edit_keeps_the_last_good_version_and_reports_why(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    good = registry.get("voicemail")
    assert good is not None
    path = flows_dir / "voicemail.yaml"
    path.write_text(path.read_text().replace("max_length: 120", "max_lenght: 120"))
    problems = registry.reload([path])
    assert registry.get("voicemail") == good
    assert [(p.severity, p.message) for p in problems] == [
        ("error", "unknown key 'max_lenght'"),
        (
            "warning",
            f"this version ({version_of(path.read_bytes())}) is not served: calls still get version {good.version}",
        ),
    ]
    assert problems[0].hint == "did you mean 'max_length'?"
    path.write_text(path.read_text().replace("max_lenght: 120", "max_length: 90"))
    assert registry.reload([path]) == []
    fixed = registry.get("voicemail")
    assert fixed is not None
    assert fixed.version != good.version


def test_a_flow_broken_at_start_is_not_served(flows_dir: Path) -> None:
    (flows_dir / "broken.yaml").write_text(BROKEN)
    registry = FlowRegistry(flows_dir)
    [problem] = registry.load_all()
    assert problem.file.endswith("broken.yaml")
    assert problem.line == 3
    assert registry.get("broken") is None


def test_deleting_a_file_others_use_is_reported_against_them(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    (flows_dir / "voicemail.yaml").unlink()
    problems = registry.reload([flows_dir / "voicemail.yaml"])
    assert registry.get("voicemail") is None
    assert {(Path(p.file).name, p.message) for p in problems} == {
        ("main_menu.yaml", "flow 'voicemail' does not exist"),
        ("support.yaml", "flow 'voicemail' does not exist"),
    }
    assert registry.get("main_menu") is not None  # unchanged files keep serving


def test_write_validates_first_and_leaves_the_file_alone_when_invalid(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    with pytest.raises(FlowInvalid) as raised:
        registry.write("hello", BROKEN)
    assert raised.value.status_code == 422
    assert [p.message for p in raised.value.problems] == ["unknown key 'promt'"]
    assert raised.value.extra["problems"][0]["line"] == 3
    assert not (flows_dir / "hello.yaml").exists()
    loaded = registry.write("hello", HELLO)
    assert (flows_dir / "hello.yaml").read_text() == HELLO
    assert registry.get("hello") == loaded
    assert [p.name for p in flows_dir.iterdir() if p.name.startswith(".")] == []


def test_write_checks_links_to_other_flows(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    with pytest.raises(FlowInvalid) as raised:
        registry.write("jump", "start: go\nsteps:\n  go: { type: goto, flow: voicemial }\n")
    [problem] = raised.value.problems
    assert (problem.message, problem.hint) == ("flow 'voicemial' does not exist", "did you mean 'voicemail'?")


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "", "a b", ".hidden"])
def test_write_refuses_ids_that_are_not_file_names(flows_dir: Path, bad_id: str) -> None:
    with pytest.raises(Exception, match="not a valid flow id"):
        FlowRegistry(flows_dir).write(bad_id, HELLO)


def test_delete_refuses_flows_in_use(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    with pytest.raises(FlowInUse, match="main_menu, support"):
        registry.delete("voicemail")
    registry.write("hello", HELLO)
    registry.delete("hello")
    assert registry.get("hello") is None
    assert not (flows_dir / "hello.yaml").exists()
    with pytest.raises(NotFound):
        registry.delete("hello")


def test_graph_of_a_flow(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    graph = registry.graph("support")
    nodes = {node.id: node for node in graph.nodes}
    assert nodes["ask_account"].start
    assert nodes["ask_account"].line == 9
    assert nodes["flow:voicemail"].kind == "flow"
    edges = {(edge.source, edge.target, edge.kind) for edge in graph.edges}
    assert ("lookup", "not_found", "result") in edges
    assert ("leave_message", "flow:voicemail", "include") in edges
    assert ("ask_account", "lookup", "input") in edges
    with pytest.raises(NotFound):
        registry.graph("nope")


async def _wait_for(condition, seconds: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > seconds:
            raise AssertionError("timed out waiting for the watcher")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


def test_watcher_reloads_changed_files_and_keeps_good_versions(flows_dir: Path) -> None:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    path = flows_dir / "hello.yaml"

    async def scenario() -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(registry.run_watcher(stop))
        await asyncio.sleep(0.2)
        path.write_text(HELLO)
        await _wait_for(lambda: registry.get("hello") is not None)
        served = registry.get("hello")
        path.write_text(BROKEN)
        await _wait_for(lambda: any(p.message == "unknown key 'promt'" for p in registry.problems))
        assert registry.get("hello") == served
        path.unlink()
        await _wait_for(lambda: registry.get("hello") is None)
        assert registry.problems == []
        stop.set()
        await asyncio.wait_for(watcher, 5)

    asyncio.run(scenario())
