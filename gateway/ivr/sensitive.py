"""Which caller input is private: what a carrier may record about it in the call's events.

Menu choices are not private (knowing the caller pressed 2 for support is what the call log is for); the answer to
a gather marked `sensitive: true` (a PIN, a card number) is. Adapters ask here rather than deciding themselves.

What the caller hears is recorded as spoken, except numbers: a prompt may read back a phone number, an account or
a PIN the caller typed (`You entered {{ pin }}`), so runs of 4 or more digits (spaces, dots and dashes between
them included) are masked; short numbers ("press 1", "from 9 until 5:30") stay as they are.
"""

from __future__ import annotations

import re

from gateway.ivr.run import FlowLookup
from gateway.ivr.state import IvrState
from gateway.ivr.steps import GatherStep

__all__ = ["input_is_sensitive", "recorded_digits", "recorded_prompt"]

_NUMBER = re.compile(r"\+?\d(?:[\s.\-()]?\d){3,}")


def input_is_sensitive(state: IvrState | None, flows: FlowLookup) -> bool:
    """True when the step `state` waits at takes private input; when that step cannot be found, also True."""
    if state is None:
        return True
    loaded = flows.get(state.flow)
    step = loaded.flow.steps.get(state.step) if loaded is not None else None
    if step is None:
        return True
    return isinstance(step, GatherStep) and step.sensitive


def recorded_digits(digits: str, sensitive: bool) -> str:
    """Keys as a call event keeps them: as pressed, or one `*` per key when private."""
    return "*" * len(digits) if sensitive else digits


def recorded_prompt(text: str) -> str:
    """A prompt as a call event keeps it: the words as spoken, long numbers masked digit by digit."""
    return _NUMBER.sub(lambda match: re.sub(r"\d", "*", match.group()), text)
