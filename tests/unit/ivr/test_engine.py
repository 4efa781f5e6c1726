"""The engine as a pure state machine: menus, input, branches, lookups, transfers, recordings, flows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.ivr import (
    CallerHangup,
    ConnectAgent,
    DialNumber,
    DialSip,
    Digits,
    Gather,
    Hangup,
    HttpRequest,
    HttpResult,
    Record,
    RecordResult,
    Say,
    Silence,
    Speech,
    TransferResult,
    advance,
    decode_state,
    encode_state,
    start,
)
from gateway.ivr.engine import MAX_STEPS_PER_TURN
from gateway.ivr.flow import Flow
from tests.unit.ivr.helpers import context, flow, session

MENU = """\
start: menu
voice: Polly.Amy
language: en-GB
steps:
  menu:
    type: menu
    greeting: Long greeting. Press 1 for sales.
    short_greeting: Short greeting.
    invalid_prompt: Invalid.
    timeout_prompt: Nothing heard.
    exit_prompt: Passing you on.
    max_failures: 2
    max_timeouts: 2
    speech: { "1": [sales, buy] }
    into: choice
    options:
      "1": sales
      _: operator
      timeout: goodbye
  sales:
    type: say
    text: Sales here.
    next: bye
  operator:
    type: say
    text: Operator here.
    next: bye
  goodbye:
    type: hangup
    prompt: Goodbye.
    reason: nobody_there
  bye:
    type: hangup
"""


def texts(actions: list) -> list[str]:
    out = []
    for action in actions:
        for sound in action.prompts if isinstance(action, Gather) else [action]:
            if isinstance(sound, Say):
                out.append(sound.text)
    return out


def test_menu_plays_the_long_greeting_and_waits_for_a_key() -> None:
    loaded = flow(MENU)
    turn = start(loaded, context(), {"f": loaded})
    assert turn.state.wait == "input"
    [gather] = turn.actions
    assert isinstance(gather, Gather)
    assert gather.prompts == [
        Say(text="Long greeting. Press 1 for sales.", voice="Polly.Amy", language="en-GB")
    ]
    assert gather.num_digits == 1
    assert gather.input == ["dtmf", "speech"]
    assert gather.hints == ["sales", "buy"]
    assert turn.state.versions == [loaded.label]


def test_menu_key_goes_to_its_option_and_is_remembered() -> None:
    call = session(flow(MENU))
    call.send(Digits(digits="1"))
    assert call.heard_last() == ["Sales here."]
    assert call.state.variables["choice"] == "1"
    assert str(call.state.outcome) == "hangup: completed"


def test_menu_understands_words() -> None:
    call = session(flow(MENU))
    call.send(Speech(text="I'd like to BUY something!"))
    assert call.heard_last() == ["Sales here."]


def test_invalid_entries_replay_the_short_greeting_then_leave_through_default_branch() -> None:
    call = session(flow(MENU))
    call.send(Digits(digits="7"))
    assert call.heard_last() == ["Invalid.", "Short greeting."]
    assert call.state.failures == 1
    call.send(Speech(text="pizza"))
    assert call.heard_last() == ["Passing you on.", "Operator here."]


def test_timeouts_are_counted_apart_and_lead_to_the_timeout_branch() -> None:
    call = session(flow(MENU))
    call.send(Digits(digits="7"))
    call.send(Silence())
    assert call.heard_last() == ["Nothing heard.", "Short greeting."]
    assert (call.state.failures, call.state.timeouts) == (1, 1)
    call.send(Silence())
    assert call.heard_last() == ["Passing you on.", "Goodbye."]
    assert str(call.state.outcome) == "hangup: nobody_there"


def test_menu_without_branches_hangs_up_after_the_limit() -> None:
    loaded = flow(
        MENU.replace(
            "      _: operator\n      timeout: goodbye\n", '      "2": operator\n      "3": goodbye\n'
        )
    )
    call = session(loaded)
    call.send(Silence())
    call.send(Silence())
    assert isinstance(call.turn.actions[-1], Hangup)
    assert str(call.state.outcome) == "hangup: menu_timeouts"


def test_counters_start_again_when_a_step_is_entered_again() -> None:
    loaded = flow(MENU.replace('"1": sales', '"1": sales\n      "9": menu'))
    call = session(loaded)
    call.send(Digits(digits="5"))
    call.send(Digits(digits="9"))
    assert call.state.failures == 0
    assert call.heard_last() == ["Long greeting. Press 1 for sales."]


GATHER = """\
start: ask
steps:
  ask:
    type: gather
    prompt: Account number?
    input: [dtmf, speech]
    num_digits: 8
    invalid_prompt: Eight digits please.
    timeout_prompt: Still there?
    failure_prompt: Never mind.
    into: account
    next: echo
    on_failure: fallback
  echo:
    type: say
    text: Got {{ account }}.
    next: bye
  fallback:
    type: say
    text: Fallback.
    next: bye
  bye:
    type: hangup
"""


@pytest.mark.parametrize(
    ("event", "stored"), [(Digits(digits="12345678"), "12345678"), (Speech(text="1234 5678"), "12345678")]
)
def test_gather_keeps_a_valid_answer(event: Digits | Speech, stored: str) -> None:
    call = session(flow(GATHER))
    call.send(event)
    assert call.state.variables["account"] == stored
    assert call.heard_last() == [f"Got {stored}."]


def test_gather_retries_then_takes_the_failure_branch() -> None:
    call = session(flow(GATHER))
    call.send(Digits(digits="123"))
    assert call.heard_last() == ["Eight digits please.", "Account number?"]
    call.send(Silence())
    assert call.heard_last() == ["Still there?", "Account number?"]
    call.send(Digits(digits="1*2"))
    assert call.heard_last() == ["Never mind.", "Fallback."]
    assert "account" not in call.state.variables


def test_gather_choices_accept_names_words_and_keys() -> None:
    text = """\
    start: ask
    steps:
      ask:
        type: gather
        prompt: Yes or no?
        input: [dtmf, speech]
        choices:
          yes: [yeah, "1"]
          no: [nope, "2"]
        into: answer
        next: bye
      bye:
        type: hangup
    """
    for event, expected in [
        (Speech(text="Yeah, sure"), "yes"),
        (Digits(digits="2"), "no"),
        (Speech(text="no"), "no"),
    ]:
        call = session(flow(text))
        call.send(event)
        assert call.state.variables["answer"] == expected


BRANCH = """\
start: route
variables: { tier: basic }
schedules:
  office:
    timezone: Europe/London
    weekly:
      - days: [mon, tue, wed, thu, fri]
        open: "09:00"
        close: "17:00"
    holidays: [2025-12-25]
steps:
  route:
    type: branch
    cases:
      - when: { caller_in: ["+447911123456"] }
        goto: vip
      - when: { variable: tier, equals: GOLD }
        goto: vip
      - when: { holiday: office }
        goto: holiday
      - when: { business_hours: office }
        goto: open
      - when: { not: { caller_withheld: false } }
        goto: anonymous
    otherwise: closed
  vip: { type: hangup, reason: vip }
  holiday: { type: hangup, reason: holiday }
  open: { type: hangup, reason: open }
  closed: { type: hangup, reason: closed }
  anonymous: { type: hangup, reason: anonymous }
"""


@pytest.mark.parametrize(
    ("caller", "now", "variables", "reason"),
    [
        ("+447911123456", datetime(2025, 3, 4, 20, 0, tzinfo=UTC), {}, "vip"),
        ("+447911000000", datetime(2025, 3, 4, 20, 0, tzinfo=UTC), {"tier": "gold"}, "vip"),
        ("+447911000000", datetime(2025, 12, 25, 11, 0, tzinfo=UTC), {}, "holiday"),
        ("+447911000000", datetime(2025, 3, 4, 9, 30, tzinfo=UTC), {}, "open"),
        # 08:30 UTC in July is 09:30 in London (summer time): open
        ("+447911000000", datetime(2025, 7, 1, 8, 30, tzinfo=UTC), {}, "open"),
        # 16:30 UTC in July is 17:30 in London: closed
        ("+447911000000", datetime(2025, 7, 1, 16, 30, tzinfo=UTC), {}, "closed"),
        ("anonymous", datetime(2025, 3, 8, 12, 0, tzinfo=UTC), {}, "anonymous"),
    ],
)
def test_branch_conditions(caller: str, now: datetime, variables: dict[str, str], reason: str) -> None:
    loaded = flow(BRANCH)
    turn = start(loaded, context(caller=caller, now=now, **variables), {"f": loaded})
    assert turn.actions == [Hangup(reason=reason)]


def test_set_renders_templates_with_earlier_values() -> None:
    text = """\
    start: s
    variables: { first: Ada }
    steps:
      s:
        type: set
        variables: { full: "{{ first }} Lovelace", first: Grace }
        next: say
      say:
        type: say
        text: "{{ full }} / {{ first }} / {{ caller }}"
        next: bye
      bye: { type: hangup }
    """
    call = session(flow(text))
    assert call.heard_last() == ["Ada Lovelace / Grace / +447911123000"]


LOOKUP = """\
start: ask
steps:
  ask:
    type: gather
    prompt: Number?
    input: [dtmf, speech]
    into: account
    next: look
  look:
    type: http
    url: https://crm.example.com/accounts/{{ account }}?from={{ caller }}
    method: POST
    headers: { X-Call: "{{ call_id }}" }
    body: { account: "{{ account }}" }
    timeout: 2.5
    results: { name: customer.name, first: orders.0.id, vip: flags.vip, missing: nope.nothing }
    next: hello
    on_error: sorry
  hello:
    type: say
    text: Hello {{ name }} ({{ first }}, {{ vip }}).
    next: bye
  sorry:
    type: say
    text: Sorry.
    next: bye
  bye: { type: hangup }
"""


def test_http_step_asks_the_adapter_and_waits() -> None:
    loaded = flow(LOOKUP)
    flows = {"f": loaded}
    turn = advance(start(loaded, context(), flows).state, Speech(text="42/7"), flows)
    assert turn.state.wait == "http"
    assert turn.actions == [
        HttpRequest(
            method="POST",
            url="https://crm.example.com/accounts/42%2F7?from=%2B447911123000",
            headers={"X-Call": "CA" + "1" * 32},
            body={"account": "42/7"},
            timeout=2.5,
        )
    ]
    reply = HttpResult(
        status=200, body={"customer": {"name": "Ada"}, "orders": [{"id": 7}], "flags": {"vip": True}}
    )
    done = advance(turn.state, reply, flows)
    assert texts(done.actions) == ["Hello Ada (7, true)."]
    assert done.state.variables["missing"] == ""


@pytest.mark.parametrize(
    "result",
    [HttpResult(error="timeout"), HttpResult(status=404, body={}), HttpResult(status=500), Silence()],
)
def test_http_failures_take_the_fallback(result: HttpResult | Silence) -> None:
    loaded = flow(LOOKUP)
    flows = {"f": loaded}
    waiting = advance(start(loaded, context(), flows).state, Digits(digits="1"), flows)
    assert texts(advance(waiting.state, result, flows).actions) == ["Sorry."]


TRANSFERS = """\
start: menu
variables: { target: "+442079460123" }
steps:
  menu:
    type: menu
    greeting: Choose.
    options: { "1": agent, "2": number, "3": sip, "4": templated, _: bye }
  agent:
    type: transfer
    agent: support
    overrides: { ticket: "{{ caller }}", nested: { list: ["{{ call_id }}", 3] }, temperature: 0.2 }
    prompt: Connecting.
    on_failure: failed
  number:
    type: transfer
    number: "+442079460123"
    caller_id: "+442079460000"
    timeout: 20
    on_failure: failed
  sip:
    type: transfer
    sip: sip:queue@pbx.example.com
    headers: { X-Account: "{{ caller }}" }
  templated:
    type: transfer
    number: "{{ target }}"
    on_failure: failed
  failed:
    type: say
    text: Nobody answered.
    next: bye
  bye: { type: hangup }
"""


def test_transfer_actions() -> None:
    loaded = flow(TRANSFERS)
    call = session(loaded)
    call.send(Digits(digits="1"))
    assert call.state.wait == "transfer"
    assert call.turn.actions[-1] == ConnectAgent(
        agent="support",
        overrides={"ticket": "+447911123000", "nested": {"list": ["CA" + "1" * 32, 3]}, "temperature": 0.2},
        announcement=1,
    )
    assert texts(call.turn.actions) == ["Connecting."]
    call = session(loaded)
    call.send(Digits(digits="2"))
    assert call.turn.actions == [DialNumber(number="+442079460123", caller_id="+442079460000", timeout=20)]
    call = session(loaded)
    call.send(Digits(digits="3"))
    assert call.turn.actions == [
        DialSip(uri="sip:queue@pbx.example.com", headers={"X-Account": "+447911123000"})
    ]


def test_completed_transfer_ends_the_call_and_a_failed_one_continues() -> None:
    call = session(flow(TRANSFERS))
    call.send(Digits(digits="2"))
    call.send(TransferResult(status="completed"))
    assert call.state.ended
    assert str(call.state.outcome) == "transferred: number"
    call = session(flow(TRANSFERS))
    call.send(Digits(digits="1"))
    call.send(TransferResult(status="busy"))
    assert call.heard_last() == ["Nobody answered."]


def test_a_transfer_without_fallback_hangs_up_with_the_reason() -> None:
    call = session(flow(TRANSFERS))
    call.send(Digits(digits="3"))
    call.send(TransferResult(status="no-answer"))
    assert call.turn.actions == [Hangup(reason="transfer_failed: no-answer")]


def test_a_templated_number_is_checked_when_the_call_runs() -> None:
    loaded = flow(TRANSFERS)
    call = session(loaded, ctx=context(target="not a number"))
    call.send(Digits(digits="4"))
    assert call.heard_last() == ["Nobody answered."]
    call = session(loaded, ctx=context(target="+44 20 7946 0123"))
    call.send(Digits(digits="4"))
    assert call.turn.actions == [DialNumber(number="+442079460123")]


def test_record_keeps_the_url_and_continues() -> None:
    text = """\
    start: rec
    steps:
      rec:
        type: record
        prompt: After the beep.
        max_length: 30
        beep: false
        finish_on_key: "*"
        transcribe: true
        into: url
        next: bye
      bye: { type: hangup, prompt: "Saved {{ url }}" }
    """
    call = session(flow(text))
    assert call.state.wait == "record"
    assert call.turn.actions[-1] == Record(
        max_length=30, beep=False, finish_on_key="*", timeout=5, transcribe=True
    )
    call.send(RecordResult(url="https://r.test/1.wav", duration=3))
    assert call.heard_last() == ["Saved https://r.test/1.wav"]


def test_reject_only_before_anything_was_played() -> None:
    text = """\
    start: b
    steps:
      b:
        type: branch
        cases: [{ when: { caller_withheld: true }, goto: refuse }]
        otherwise: hello
      hello: { type: say, text: Hi, next: refuse }
      refuse: { type: hangup, reject: busy, reason: blocked }
    """
    loaded = flow(text)
    refused = start(loaded, context(caller="anonymous"), {"f": loaded})
    assert refused.actions == [Hangup(reason="blocked", reject="busy")]
    answered = start(loaded, context(), {"f": loaded})
    assert answered.actions[-1] == Hangup(reason="blocked", reject=None)


SUB = """\
start: ask
variables: { prompt_word: PIN }
steps:
  ask:
    type: gather
    prompt: "Your {{ prompt_word }}?"
    into: pin
    next: done
  done: { type: return }
"""

MAIN = """\
start: intro
steps:
  intro: { type: say, text: Main., next: inc }
  inc: { type: include, flow: sub, next: after }
  after: { type: say, text: "Back with {{ pin }}.", next: away }
  away: { type: goto, flow: other, step: second }
"""

OTHER = """\
start: first
steps:
  first: { type: say, text: First., next: second }
  second: { type: hangup, reason: second }
"""


def test_include_returns_and_goto_switches_flow_recording_versions() -> None:
    sub = flow(SUB, "sub")
    other = flow(OTHER, "other")
    main = flow(
        MAIN.replace("{{ pin }}", "{{ pin }}") + "variables: { pin: '' }\n",
        "main",
        others={"sub": sub, "other": other},
    )
    flows = {"main": main, "sub": sub, "other": other}
    call = session(main, flows)
    assert call.heard_last() == ["Main.", "Your PIN?"]
    assert call.state.flow == "sub"
    assert len(call.state.stack) == 1
    call.send(Digits(digits="1234"))
    assert call.heard_last() == ["Back with 1234."]
    assert call.turn.actions[-1] == Hangup(reason="second")
    assert call.state.versions == [main.label, sub.label, main.label, other.label]
    assert call.state.stack == []


def test_state_survives_serialisation_and_any_replica_continues() -> None:
    loaded = flow(MENU)
    flows = {"f": loaded}
    first = start(loaded, context(), flows)
    again = advance(first.state, Digits(digits="7"), flows)
    stored = encode_state(again.state)
    assert len(stored) < 600
    assert decode_state(stored) == again.state
    assert advance(decode_state(stored), Digits(digits="1"), flows) == advance(
        again.state, Digits(digits="1"), flows
    )


def test_a_step_removed_under_a_live_call_ends_it_cleanly() -> None:
    loaded = flow(MENU)
    state = start(loaded, context(), {"f": loaded}).state
    edited = flow(
        MENU.replace("start: menu", "start: menu2")
        .replace("  menu:\n", "  menu2:\n")
        .replace('"9": menu', "")
    )
    turn = advance(state, Digits(digits="1"), {"f": edited})
    assert turn.actions == [Hangup(reason="flow_error")]
    assert turn.state.outcome is not None
    assert turn.state.outcome.kind == "failed"


def test_a_loop_the_loader_would_refuse_is_stopped_at_run_time() -> None:
    from gateway.ivr.flow import LoadedFlow
    from gateway.ivr.steps import GotoStep, SayStep

    spinning = Flow(start="a", steps={"a": SayStep(text="a", next="b"), "b": GotoStep(step="a")})
    loaded = LoadedFlow(
        id="spin",
        version="0",
        path=__import__("pathlib").Path("spin.yaml"),
        loaded_at=datetime.now(UTC),
        flow=spinning,
        text="",
        schedules={},
    )
    turn = start(loaded, context(), {"spin": loaded})
    assert turn.actions[-1] == Hangup(reason="flow_error")
    assert len(turn.actions) == MAX_STEPS_PER_TURN // 2 + 1


def test_after_the_end_every_event_gets_a_hangup_and_caller_hangup_ends_quietly() -> None:
    loaded = flow(MENU)
    flows = {"f": loaded}
    state = start(loaded, context(), flows).state
    ended = advance(state, CallerHangup(), flows)
    assert ended.actions == []
    assert str(ended.state.outcome) == "caller_hangup: menu"
    assert advance(ended.state, Digits(digits="1"), flows).actions == [Hangup(reason="menu")]


def test_start_needs_an_aware_time() -> None:
    loaded = flow(MENU)
    naive = context(now=datetime(2025, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        start(loaded, naive, {"f": loaded})
