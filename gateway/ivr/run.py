"""One turn of the engine: the call state being advanced and the actions produced on the way.

Steps receive a `Run` and use its small vocabulary (speak, gather, transfer, hang up, jump to a flow) so that
none of them builds state or actions by hand.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from gateway.ivr.actions import (
    Action,
    ConnectAgent,
    DialNumber,
    DialSip,
    Gather,
    Hangup,
    HttpRequest,
    Play,
    Record,
    RejectReason,
    Say,
    Sound,
)
from gateway.ivr.conditions import ConditionEnv
from gateway.ivr.flow import LoadedFlow
from gateway.ivr.prompts import PromptSpec, prompt_items
from gateway.ivr.state import Frame, IvrState, Outcome, Turn, WaitKind
from gateway.ivr.steps import Step
from gateway.ivr.templates import render, render_header, render_url

__all__ = ["MAX_INCLUDE_DEPTH", "FlowLookup", "Run"]

MAX_INCLUDE_DEPTH = 8
_log = logging.getLogger("gateway.ivr.engine")


class FlowLookup(Protocol):
    """Where `goto`/`include` find other flows: a `FlowRegistry`, or any mapping of id -> LoadedFlow."""

    def get(self, flow_id: str, /) -> LoadedFlow | None: ...


class Run:
    def __init__(self, state: IvrState, flows: FlowLookup, now: datetime, current: LoadedFlow | None) -> None:
        self.flows = flows
        self.now = now
        self.state_in = state
        self.loaded = current
        self.flow_id = state.flow
        self.step_id = state.step
        self.wait: WaitKind = state.wait
        self.vars: dict[str, str] = dict(state.variables)
        self.failures = state.failures
        self.timeouts = state.timeouts
        self.stack = list(state.stack)
        self.answered = state.answered
        self.versions = list(state.versions)
        self.outcome = state.outcome
        self.actions: list[Action] = []
        self.steps_run: list[str] = []

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def flow(self) -> LoadedFlow:
        if self.loaded is None:
            raise LookupError(f"flow {self.flow_id!r} is not loaded")
        return self.loaded

    @property
    def language(self) -> str | None:
        return self.flow.flow.language

    def step(self, step_id: str) -> Step | None:
        return self.flow.flow.steps.get(step_id) if self.loaded is not None else None

    def text(self, template: str) -> str:
        return render(template, self.vars)

    def url(self, template: str) -> str:
        return render_url(template, self.vars)

    def header(self, template: str) -> str:
        return render_header(template, self.vars)

    def condition_env(self) -> ConditionEnv:
        return ConditionEnv(self.vars, self.vars.get("caller", ""), self.now, self.flow.schedules)

    # --- what the caller hears -------------------------------------------------------------------------

    def spoken(self, template: str, *, voice: str | None = None, language: str | None = None) -> Say:
        defaults = self.flow.flow
        return Say(
            text=self.text(template), voice=voice or defaults.voice, language=language or defaults.language
        )

    def sounds(self, spec: PromptSpec | None) -> list[Sound]:
        sounds: list[Sound] = []
        for item in prompt_items(spec):
            if isinstance(item, str):
                sounds.append(self.spoken(item))
            elif item.say is not None:
                sounds.append(self.spoken(item.say, voice=item.voice, language=item.language))
            elif item.play is not None:
                sounds.append(Play(url=self.text(item.play)))
        return sounds

    def emit(self, *actions: Action) -> None:
        self.actions.extend(actions)
        if any(isinstance(action, Say | Play | Gather | Record) for action in actions):
            self.answered = True

    # --- how a turn ends -------------------------------------------------------------------------------

    def gather(self, action: Gather) -> None:
        self.emit(action)
        self.wait = "input"

    def record(self, action: Record) -> None:
        self.emit(action)
        self.wait = "record"

    def request(self, action: HttpRequest) -> None:
        self.emit(action)
        self.wait = "http"

    def transfer(self, action: ConnectAgent | DialNumber | DialSip) -> None:
        self.emit(action)
        self.wait = "transfer"

    def hangup(
        self, reason: str, *, reject: RejectReason | None = None, outcome: Outcome | None = None
    ) -> None:
        refuse = reject if not self.answered else None
        self.actions.append(Hangup(reason=reason, reject=refuse))
        self.end(outcome or Outcome("hangup", reason))

    def end(self, outcome: Outcome) -> None:
        self.wait = "done"
        self.outcome = outcome

    def fail(self, why: str) -> None:
        """Something the loader could not rule out went wrong: end the call rather than leave it in silence."""
        _log.error("ivr flow failed", extra={"flow": self.flow_id, "step": self.step_id, "why": why})
        self.actions.append(Hangup(reason="flow_error"))
        self.end(Outcome("failed", why))

    # --- moving between flows --------------------------------------------------------------------------

    def enter_flow(self, flow_id: str, step_id: str | None = None) -> str | None:
        loaded = self.flows.get(flow_id)
        if loaded is None:
            self.fail(f"flow '{flow_id}' is not loaded")
            return None
        self.loaded = loaded
        self.flow_id = flow_id
        if not self.versions or self.versions[-1] != loaded.label:
            self.versions.append(loaded.label)
        for name, value in loaded.flow.variables.items():
            self.vars.setdefault(name, value)
        target = step_id or loaded.flow.start
        if target not in loaded.flow.steps:
            self.fail(f"step '{target}' is not in flow '{flow_id}'")
            return None
        return target

    def include(self, flow_id: str, then: str) -> str | None:
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            self.fail(f"flows included more than {MAX_INCLUDE_DEPTH} deep")
            return None
        self.stack.append(Frame(self.flow_id, then))
        return self.enter_flow(flow_id)

    def return_from_include(self) -> str | None:
        if not self.stack:
            self.hangup("completed")
            return None
        frame = self.stack.pop()
        return self.enter_flow(frame.flow, frame.step)

    # --- result ----------------------------------------------------------------------------------------

    def turn(self) -> Turn:
        state = IvrState(
            call_id=self.state_in.call_id,
            flow=self.flow_id,
            step=self.step_id,
            wait=self.wait,
            variables=self.vars,
            started_at=self.state_in.started_at,
            versions=self.versions,
            failures=self.failures,
            timeouts=self.timeouts,
            stack=self.stack,
            answered=self.answered,
            outcome=self.outcome,
        )
        return Turn(state, self.actions, self.steps_run)
