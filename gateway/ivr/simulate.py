"""Talk to a flow in the terminal: prompts are printed, you type keys or words (no phone needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from gateway.ivr.actions import HttpRequest
from gateway.ivr.events import (
    CallerHangup,
    Digits,
    Event,
    HttpResult,
    RecordResult,
    Silence,
    Speech,
    TransferResult,
    TransferStatus,
)
from gateway.ivr.flow import LoadedFlow
from gateway.ivr.run import FlowLookup
from gateway.ivr.secrets import shown as shown_text
from gateway.ivr.session import Session, describe_action, describe_state
from gateway.ivr.state import IvrContext

__all__ = ["HELP", "simulate"]

HELP = (
    "Type keys (e.g. 1 or 12345678#) or words to say; /silence to stay silent, /hangup to hang up, "
    "/vars to show variables, /quit to stop."
)
_TRANSFER_RESULTS: tuple[TransferStatus, ...] = ("completed", "busy", "no-answer", "failed", "canceled")


def simulate(
    flow: LoadedFlow,
    ctx: IvrContext,
    flows: FlowLookup,
    fetch: Callable[[HttpRequest], HttpResult],
    *,
    read: Callable[[str], str | None],
    out: TextIO,
) -> int:
    """Run one simulated call. `read(prompt)` returns a line, or None at end of input. Returns 0."""

    def fetch_and_show(request: HttpRequest) -> HttpResult:
        result = fetch(request)
        shown = result.error or f"status {result.status}"
        print(f"  (HTTP {request.method} {shown_text(request.url)} -> {shown})", file=out)
        return result

    print(f"Simulating {flow.label} as {ctx.caller} at {ctx.now.isoformat()}. {HELP}", file=out)
    session = Session(flow, ctx, flows, fetch_and_show)
    while True:
        _show_turn(session, out)
        state = session.state
        if state.ended:
            print(f"Call ended: {describe_state(state)}", file=out)
            return 0
        event = _ask(state.wait, session, read, out)
        if event is None:
            print("Stopped.", file=out)
            return 0
        session.send(event)


def _show_turn(session: Session, out: TextIO) -> None:
    for text in session.heard_last():
        print(f"  >> {text}", file=out)
    for action in session.turn.actions:
        line = describe_action(action)
        if line and not line.startswith("(HTTP"):
            print(f"  {line}", file=out)


def _ask(wait: str, session: Session, read: Callable[[str], str | None], out: TextIO) -> Event | None:
    while True:
        prompt = {
            "transfer": "transfer result [completed/busy/no-answer/failed] > ",
            "record": "seconds recorded > ",
        }
        line = read(prompt.get(wait, "> "))
        if line is None or line.strip() == "/quit":
            return None
        text = line.strip()
        if text == "/vars":
            for name, value in sorted(session.state.variables.items()):
                print(f"  {name} = {value!r}", file=out)
            continue
        if text == "/hangup":
            return CallerHangup()
        if text in ("/silence", ""):
            return Silence()
        if wait == "transfer":
            status = next((status for status in _TRANSFER_RESULTS if status == text), None)
            if status is not None:
                return TransferResult(status=status)
            print(f"  one of: {', '.join(_TRANSFER_RESULTS)}", file=out)
            continue
        if wait == "record":
            if text.isdigit():
                seconds = int(text)
                return (
                    RecordResult(url="https://recordings.test/simulated.wav", duration=seconds)
                    if seconds
                    else Silence()
                )
            print("  a number of seconds, or /silence", file=out)
            continue
        keys = text.replace(" ", "")
        if keys and all(key in "0123456789*#" for key in keys):
            return Digits(digits=keys.rstrip("#") if len(keys) > 1 else keys)
        if text.startswith("/"):
            print(f"  unknown command {text}. {HELP}", file=out)
            continue
        return Speech(text=text)
