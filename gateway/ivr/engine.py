"""The IVR engine: a pure state machine over a flow.

``start(flow, ctx, flows) -> Turn`` and ``advance(state, event, flows) -> Turn``; a `Turn` carries the new
`IvrState` (small, serialisable) and the actions to perform. The engine does no I/O: an `http` step yields
an `HttpRequest` action and waits for an `HttpResult` event; `goto`/`include` find other flows through the
`flows` lookup passed in. It knows nothing of TwiML or HTTP.

Every turn ends in something the caller can act on or that ends the call: a prompt with input (`Gather`),
`Record`, a transfer, or `Hangup` (or an `HttpRequest` the adapter resolves at once). Runaway flows the
loader could not rule out (a flow edited under a live call) end with a hang-up, never silence.
"""

from __future__ import annotations

from datetime import datetime

from gateway.ivr.actions import Hangup, is_final
from gateway.ivr.events import CallerHangup, Event
from gateway.ivr.flow import LoadedFlow
from gateway.ivr.run import FlowLookup, Run
from gateway.ivr.state import IvrContext, IvrState, Outcome, Turn
from gateway.ivr.steps import step_type

__all__ = ["MAX_STEPS_PER_TURN", "advance", "start"]

MAX_STEPS_PER_TURN = 100


def start(flow: LoadedFlow, ctx: IvrContext, flows: FlowLookup) -> Turn:
    """Begin `flow` for a new call and run it up to the first thing the caller hears and answers."""
    if ctx.now.tzinfo is None:
        raise ValueError("IvrContext.now must be timezone-aware")
    variables = {
        **flow.flow.variables,
        **ctx.variables,
        "caller": ctx.caller,
        "called": ctx.called,
        "call_id": ctx.call_id,
    }
    state = IvrState(
        call_id=ctx.call_id,
        flow=flow.id,
        step=flow.flow.start,
        wait="input",
        variables=variables,
        started_at=ctx.now,
        versions=[flow.label],
    )
    run = Run(state, flows, ctx.now, current=flow)
    _execute(run, flow.flow.start)
    return run.turn()


def advance(state: IvrState, event: Event, flows: FlowLookup, *, now: datetime | None = None) -> Turn:
    """Apply what happened on the call to `state`. `now` (aware) defaults to the call's start time."""
    if state.wait == "done":
        reason = state.outcome.detail if state.outcome is not None else "completed"
        return Turn(state, [] if isinstance(event, CallerHangup) else [Hangup(reason=reason)])
    run = Run(state, flows, now or state.started_at, current=flows.get(state.flow))
    if isinstance(event, CallerHangup):
        run.end(Outcome("caller_hangup", state.step))
        return run.turn()
    step = run.step(state.step)
    if step is None:
        run.fail(f"step '{state.step}' of flow '{state.flow}' is gone (the flow changed during the call)")
        return run.turn()
    label = run.flow.label
    if run.versions[-1] != label:
        run.versions.append(label)
    next_step = step.resume(run, event)
    if next_step is not None:
        _execute(run, next_step)
    elif run.wait != "done" and not _ends_in_wait(run):
        run.fail(f"step '{state.step}' stopped without waiting for anything")
    return run.turn()


def _execute(run: Run, step_id: str) -> None:
    """Run steps from `step_id` until one waits (for input, a result) or the call ends."""
    for _ in range(MAX_STEPS_PER_TURN):
        step = run.step(step_id)
        if step is None:
            run.fail(f"step '{step_id}' is not in flow '{run.flow_id}'")
            return
        run.step_id = step_id
        run.failures = run.timeouts = 0
        run.steps_run.append(step_type(step))
        next_step = step.enter(run)
        if next_step is None:
            if run.wait != "done" and not _ends_in_wait(run):
                run.fail(f"step '{step_id}' stopped without waiting for anything")
            return
        step_id = next_step
    run.fail(f"more than {MAX_STEPS_PER_TURN} steps without waiting for the caller")


def _ends_in_wait(run: Run) -> bool:
    return bool(run.actions) and is_final(run.actions[-1])
