"""Which caller input is private: what a carrier may record about it in the call's events.

Menu choices are not private (knowing the caller pressed 2 for support is what the call log is for); the answer to
a gather marked `sensitive: true` (a PIN, a card number) is. Adapters ask here rather than deciding themselves.
"""

from __future__ import annotations

from gateway.ivr.run import FlowLookup
from gateway.ivr.state import IvrState
from gateway.ivr.steps import GatherStep

__all__ = ["input_is_sensitive", "recorded_digits"]


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
