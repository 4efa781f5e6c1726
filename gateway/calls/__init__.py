"""The call slice: the lifecycle state machine shared by every carrier and by LiveKit."""

from gateway.calls.lifecycle import (
    TERMINAL_STATES,
    CallSnapshot,
    CallState,
    Outcome,
    OutcomeKind,
    StatusUpdate,
    UnknownCallStatus,
    fold,
    state_from_sip,
    state_from_twilio,
    transition,
)

__all__ = [
    "TERMINAL_STATES",
    "CallSnapshot",
    "CallState",
    "Outcome",
    "OutcomeKind",
    "StatusUpdate",
    "UnknownCallStatus",
    "fold",
    "state_from_sip",
    "state_from_twilio",
    "transition",
]
