"""Private input: only gathers marked `sensitive` are masked in call events; menu choices are kept."""

from __future__ import annotations

from msgspec.structs import replace

from gateway.ivr import input_is_sensitive, recorded_digits, start
from tests.unit.ivr.helpers import context, flow

FLOW = """\
start: menu
steps:
  menu:
    type: menu
    greeting: Press 1 for your balance.
    options: { "1": pin }
  pin:
    type: gather
    prompt: Your PIN?
    into: pin
    sensitive: true
    next: ref
  ref:
    type: gather
    prompt: Your order number?
    into: order
    next: bye
  bye:
    type: hangup
"""


def test_only_gathers_marked_sensitive_are_private() -> None:
    loaded = flow(FLOW)
    flows = {loaded.id: loaded}
    state = start(loaded, context(), flows).state
    assert state.step == "menu"
    assert input_is_sensitive(state, flows) is False
    assert input_is_sensitive(replace(state, step="pin"), flows) is True
    assert input_is_sensitive(replace(state, step="ref"), flows) is False


def test_unknown_steps_and_missing_state_are_treated_as_private() -> None:
    loaded = flow(FLOW)
    state = start(loaded, context(), {loaded.id: loaded}).state
    assert input_is_sensitive(None, {loaded.id: loaded}) is True
    assert input_is_sensitive(state, {}) is True, "the flow was deleted since"
    assert input_is_sensitive(replace(state, step="gone"), {loaded.id: loaded}) is True


def test_recorded_digits() -> None:
    assert recorded_digits("1234", True) == "****"
    assert recorded_digits("2", False) == "2"
