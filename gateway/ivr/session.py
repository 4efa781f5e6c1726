"""A call driven in-process: the engine plus a fetch function for HTTP lookups, turn after turn.

Used by flow tests, the terminal simulator and benchmarks; also a compact example of what a carrier adapter
does around `start` / `advance`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

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
    Say,
)
from gateway.ivr.driver import drive_sync
from gateway.ivr.engine import advance, start
from gateway.ivr.events import Event, HttpResult
from gateway.ivr.flow import LoadedFlow
from gateway.ivr.run import FlowLookup
from gateway.ivr.state import IvrContext, IvrState, Turn

__all__ = ["Session", "describe_action", "describe_state", "heard", "transfer_target"]

Fetch = Callable[[HttpRequest], HttpResult]


class Session:
    def __init__(self, flow: LoadedFlow, ctx: IvrContext, flows: FlowLookup, fetch: Fetch) -> None:
        self.flows = flows
        self.requests: list[HttpRequest] = []
        self._fetch = fetch
        self.now = ctx.now
        self.turns: list[Turn] = []
        self._record(start(flow, ctx, flows))

    def _fetch_and_log(self, request: HttpRequest) -> HttpResult:
        self.requests.append(request)
        return self._fetch(request)

    def _record(self, turn: Turn) -> Turn:
        turn = drive_sync(turn, self.flows, self._fetch_and_log, now=self.now)
        self.turns.append(turn)
        return turn

    @property
    def turn(self) -> Turn:
        return self.turns[-1]

    @property
    def state(self) -> IvrState:
        return self.turn.state

    def send(self, event: Event, *, now: datetime | None = None) -> Turn:
        if now is not None:
            self.now = now
        return self._record(advance(self.state, event, self.flows, now=self.now))

    def heard_last(self) -> list[str]:
        return heard(self.turn.actions)

    def heard_all(self) -> list[str]:
        return [text for turn in self.turns for text in heard(turn.actions)]


def heard(actions: list[Action]) -> list[str]:
    """What the caller hears in these actions: spoken text, and ``[audio <url>]`` for played audio."""
    texts: list[str] = []
    for action in actions:
        sounds = action.prompts if isinstance(action, Gather) else [action]
        for sound in sounds:
            if isinstance(sound, Say):
                texts.append(sound.text)
            elif isinstance(sound, Play):
                texts.append(f"[audio {sound.url}]")
    return texts


def transfer_target(action: Action) -> str | None:
    match action:
        case ConnectAgent(agent=agent):
            return f"agent {agent}"
        case DialNumber(number=number):
            return f"number {number}"
        case DialSip(uri=uri):
            return f"sip {uri}"
    return None


def describe_action(action: Action) -> str | None:
    """One line for what the call does next (for the simulator), or None for sounds."""
    match action:
        case Gather(input=inputs, num_digits=num_digits):
            wanted = " or ".join("keys" if kind == "dtmf" else "speech" for kind in inputs)
            count = f", {num_digits} digit(s)" if num_digits else ""
            return f"(waiting for {wanted}{count})"
        case Record(max_length=max_length, beep=beep):
            return f"({'beep, ' if beep else ''}recording up to {max_length}s)"
        case HttpRequest(method=method, url=url):
            return f"(HTTP {method} {url})"
        case Hangup(reason=reason, reject=reject):
            return f"(call refused: {reject})" if reject else f"(hang up: {reason})"
    target = transfer_target(action)
    return f"(transfer to {target})" if target else None


def describe_state(state: IvrState) -> str:
    """``hangup: after_hours``, ``transferred: agent sales``, or ``waiting: input`` while the call goes on."""
    if state.outcome is not None:
        return str(state.outcome)
    return f"waiting: {state.wait}"
