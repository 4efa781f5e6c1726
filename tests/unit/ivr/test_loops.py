"""Loops a caller could be stuck in without doing anything are refused; loops through their input are not."""

from __future__ import annotations

from pathlib import Path

from gateway.ivr import FlowRegistry
from tests.unit.ivr.helpers import flow, problems_of

SPIN_HINT = "let the caller choose somewhere in the loop (menu, gather), or end it (transfer, hangup)"


def loop_messages(text: str) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in problems_of(text) if "loop forever" in p.message]


def test_steps_that_lead_to_each_other_are_a_loop() -> None:
    text = """\
    start: a
    steps:
      a: { type: say, text: A, next: b }
      b: { type: set, variables: { x: "1" }, next: c }
      c: { type: goto, step: a }
    """
    [problem] = problems_of(text)
    assert (problem.line, problem.col, problem.step) == (3, 3, "a")
    assert (
        problem.message == "these steps can loop forever without the caller doing anything: a -> b -> c -> a"
    )
    assert problem.hint == SPIN_HINT


def test_a_menu_that_times_out_into_itself_spins_on_silence() -> None:
    text = """\
    start: menu
    steps:
      menu:
        type: menu
        greeting: Press 1
        options: { "1": bye, _: bye, timeout: again }
      again: { type: say, text: Hello?, next: menu }
      bye: { type: hangup }
    """
    assert loop_messages(text) == [
        (3, "these steps can loop forever without the caller doing anything: menu -> again -> menu")
    ]


def test_failed_lookups_and_transfers_retrying_forever_are_loops() -> None:
    text = """\
    start: look
    steps:
      look: { type: http, url: "https://x.example/a", next: call, on_error: look }
      call: { type: transfer, number: "+442079460123", on_failure: call }
    """
    assert [line for line, _ in loop_messages(text)] == [3, 4]


def test_a_gather_that_retries_itself_on_failure_spins() -> None:
    text = """\
    start: ask
    steps:
      ask: { type: gather, prompt: PIN?, into: pin, next: bye, on_failure: ask }
      bye: { type: hangup }
    """
    assert len(loop_messages(text)) == 1


def test_loops_through_caller_input_are_fine() -> None:
    text = """\
    start: menu
    steps:
      menu:
        type: menu
        greeting: Press 1 to hear this again, 2 to leave.
        options: { "1": again, "2": bye, _: bye, timeout: bye }
      again: { type: say, text: Again., next: menu }
      bye: { type: hangup }
    """
    assert problems_of(text) == []


SUB_ASKS = """\
start: ask
steps:
  ask: { type: gather, prompt: PIN?, into: pin, next: done }
  done: { type: return }
"""
SUB_SILENT = """\
start: done
steps:
  done: { type: return }
"""
REPEAT = """\
start: inc
steps:
  inc: { type: include, flow: sub, next: again }
  again: { type: goto, step: inc }
"""


def test_including_a_flow_in_a_loop_spins_only_if_it_returns_without_input() -> None:
    asks = flow(SUB_ASKS, "sub")
    assert problems_of(REPEAT, others={"sub": asks}) == []
    silent = flow(SUB_SILENT, "sub")
    assert [p.message for p in problems_of(REPEAT, others={"sub": silent})] == [
        "these steps can loop forever without the caller doing anything: inc -> again -> inc"
    ]


def test_loops_across_flows_are_reported_in_each_flow(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(
        "start: a\nsteps:\n  a: { type: say, text: One, next: b }\n  b: { type: goto, flow: two }\n"
    )
    (tmp_path / "two.yaml").write_text("start: c\nsteps:\n  c: { type: goto, flow: one, step: a }\n")
    registry = FlowRegistry(tmp_path)
    problems = registry.load_all()
    assert [(Path(p.file).name, p.line, p.message) for p in problems] == [
        (
            "one.yaml",
            3,
            "these steps can loop forever without the caller doing anything: a -> b -> two:c -> a",
        ),
        (
            "two.yaml",
            3,
            "these steps can loop forever without the caller doing anything: c -> one:a -> one:b -> c",
        ),
    ]
    assert registry.all() == []
