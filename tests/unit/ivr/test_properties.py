"""Properties over many generated calls and edits: no caller is left in silence, no file crashes the loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ivr import (
    CallerHangup,
    ConnectAgent,
    DialNumber,
    DialSip,
    Digits,
    Event,
    Gather,
    Hangup,
    HttpRequest,
    HttpResult,
    Record,
    RecordResult,
    Silence,
    Speech,
    TransferResult,
    Turn,
    advance,
    decode_state,
    encode_state,
    render_twiml,
    start,
)
from gateway.ivr.actions import is_final
from gateway.ivr.loader import parse_flow
from tests.unit.ivr.helpers import SAMPLE_FLOWS, context
from tests.unit.ivr.test_sample_flows import REGISTRY

WAITS = {
    "input": (Gather,),
    "record": (Record,),
    "transfer": (DialNumber, DialSip, ConnectAgent),
    "http": (HttpRequest,),
}

events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Digits, digits=st.text("0123456789*#", min_size=1, max_size=9)),
    st.builds(Digits, digits=st.sampled_from(["1", "2", "3", "9", "12345678", "87654321"])),
    st.builds(
        Speech,
        text=st.sampled_from(["sales", "support", "yes", "no", "1234 5678", "pizza"]) | st.text(max_size=12),
    ),
    st.just(Silence()),
    st.builds(
        HttpResult,
        status=st.sampled_from([200, 404, 500, None]),
        body=st.sampled_from(
            [None, {"name": "Ada", "plan": {"tier": "premium"}}, {"tickets": [{"id": 7}]}, [1]]
        ),
        error=st.sampled_from([None, "timeout"]),
    ),
    st.builds(
        TransferResult, status=st.sampled_from(["completed", "busy", "no-answer", "failed", "canceled"])
    ),
    st.builds(RecordResult, url=st.just("https://r.test/m.wav"), duration=st.floats(0, 300)),
    st.just(CallerHangup()),
)


def assert_caller_not_left_in_silence(turn: Turn, event: Event | None) -> None:
    state = turn.state
    if state.wait != "done":
        assert turn.actions, "a live call must be told what to do"
        assert isinstance(turn.actions[-1], WAITS[state.wait])
        assert all(not is_final(action) for action in turn.actions[:-1])
    elif isinstance(event, CallerHangup) or (
        state.outcome is not None and state.outcome.kind == "caller_hangup"
    ):
        assert turn.actions == [] or turn.actions == [
            Hangup(reason=state.outcome.detail if state.outcome else "")
        ]
    else:
        assert isinstance(turn.actions[-1], Hangup)
    last = turn.actions[-1] if turn.actions else None
    if turn.actions and not isinstance(last, HttpRequest | ConnectAgent):
        assert render_twiml(turn.actions, action_url="https://gw.example.com/a").startswith("<?xml")
    assert decode_state(encode_state(state)) == state


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flow_id=st.sampled_from(["main_menu", "support", "voicemail"]),
    caller=st.sampled_from(["+447911123000", "+447911123456", "anonymous", ""]),
    minutes=st.integers(0, 60 * 24 * 400),
    script=st.lists(events, max_size=30),
)
def test_every_turn_ends_in_a_prompt_a_transfer_a_recording_or_a_hangup(
    flow_id: str, caller: str, minutes: int, script: list[Event]
) -> None:
    loaded = REGISTRY.get(flow_id)
    assert loaded is not None
    now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    turn = start(loaded, context(caller=caller, now=now), REGISTRY)
    assert_caller_not_left_in_silence(turn, None)
    for event in script:
        turn = advance(turn.state, event, REGISTRY, now=now)
        assert_caller_not_left_in_silence(turn, event)


SAMPLE_TEXTS = {path.stem: path.read_text() for path in SAMPLE_FLOWS.glob("*.yaml")}


@st.composite
def edited_flows(draw: st.DrawFn) -> tuple[str, str]:
    flow_id = draw(st.sampled_from(sorted(SAMPLE_TEXTS)))
    lines = SAMPLE_TEXTS[flow_id].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "truncate", "insert"]))
        if edit == "delete" and len(lines) > 1:
            del lines[index]
        elif edit == "duplicate":
            lines.insert(index, lines[index])
        elif edit == "indent":
            lines[index] = "  " + lines[index]
        elif edit == "dedent":
            lines[index] = lines[index][2:]
        elif edit == "truncate":
            lines[index] = lines[index][: draw(st.integers(0, max(0, len(lines[index]) - 1)))]
        else:
            lines.insert(index, draw(st.text(alphabet=" :-#{}[]'\"\tabc1+\n", max_size=20)))
    return flow_id, "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(edited=edited_flows())
def test_any_edit_gives_a_flow_or_placed_problems_never_a_crash(edited: tuple[str, str]) -> None:
    flow_id, text = edited
    parsed = parse_flow(text.encode(), flow_id=flow_id, path=Path(f"{flow_id}.yaml"), base_dir=None)
    line_count = len(text.splitlines()) + 1
    for problem in parsed.problems:
        assert 1 <= problem.line <= line_count
        assert problem.col >= 1
        assert problem.message
    assert (parsed.flow is None) == any(problem.severity == "error" for problem in parsed.problems)
