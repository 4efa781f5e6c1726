"""IVR benchmark: engine step + TwiML, loading 1,000 flow files, and hot-reload latency.

1. advance + render per step: a caller in the sample main menu presses keys (invalid, then valid ones, on a
   fresh call each time the flow ends); each `advance` + `render_twiml` is timed alone (perf_counter_ns).
   `render_twiml` memoises by content (callers hear the same menus), so the same steps are also timed with
   `render_twiml_uncached`. Side by side, in the same run: a bare twilio VoiceResponse of one menu turn (the
   renderer's floor), and the state round trip an adapter adds (encode_state + decode_state).
2. `FlowRegistry.load_all()` over N generated flow files (parse, type-check, validate, cross-check).
3. Reload latency: with the watcher running over those files, time from a saved edit (file closed) to the
   new version being served; and the same for a directory holding only the sample flows.

    .venv/bin/python benchmarks/ivr.py [--flows 1000] [--steps 20000] [--reloads 8]

Goals: p99 per step < 100 us, 1,000 flows < 2 s, reload < 500 ms. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.twiml.voice_response import VoiceResponse

from gateway.ivr import (
    Action,
    ConnectAgent,
    DialSip,
    Digits,
    FlowRegistry,
    IvrContext,
    RecordResult,
    TransferResult,
    advance,
    decode_state,
    encode_state,
    render_twiml,
    start,
)
from gateway.ivr.twiml import render_twiml_uncached

ROOT = Path(__file__).resolve().parent.parent
ACTION_URL = "https://gw.example.com/carriers/twilio/ivr?call=CA0123"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def as_adapter_would(actions: list[Action]) -> list[Action]:
    """The Twilio adapter bridges agent transfers through LiveKit SIP before rendering."""
    return [
        DialSip(uri=f"sip:{action.agent}@livekit.example.com", timeout=action.timeout)
        if isinstance(action, ConnectAgent)
        else action
        for action in actions
    ]


def bench_steps(count: int) -> dict[str, float]:
    registry = FlowRegistry(ROOT / "ivr_flows")
    registry.load_all()
    main_menu = registry.get("main_menu")
    assert main_menu is not None
    ctx = IvrContext(
        caller="+447911123000",
        called="+442079460000",
        call_id="CA" + "0" * 32,
        now=datetime(2025, 3, 4, 10, tzinfo=UTC),
    )
    script = [
        Digits(digits="7"),
        Digits(digits="9"),
        Digits(digits="1"),
        TransferResult(status="busy"),
        TransferResult(status="busy"),
        RecordResult(url="https://api.twilio.com/recordings/RE1", duration=12),
    ]
    step_ns: list[int] = []
    fresh_ns: list[int] = []
    advance_ns: list[int] = []
    state_ns: list[int] = []
    turn = start(main_menu, ctx, registry)
    position = 0
    gc.disable()
    for _ in range(count):
        began = time.perf_counter_ns()
        if turn.state.ended:
            turn = start(main_menu, ctx, registry)
            position = 0
        else:
            turn = advance(turn.state, script[position], registry)
            position += 1
        advanced = time.perf_counter_ns()
        actions = as_adapter_would(turn.actions)
        render_twiml(actions, action_url=ACTION_URL)
        rendered = time.perf_counter_ns()
        decode_state(encode_state(turn.state))
        stored = time.perf_counter_ns()
        render_twiml_uncached(actions, action_url=ACTION_URL)
        fresh = time.perf_counter_ns()
        advance_ns.append(advanced - began)
        step_ns.append(rendered - began)
        state_ns.append(stored - rendered)
        fresh_ns.append(advanced - began + fresh - stored)
    gc.enable()
    bare_ns: list[int] = []
    for _ in range(count):
        began = time.perf_counter_ns()
        response = VoiceResponse()
        gather = response.gather(
            action=ACTION_URL, input="dtmf speech", num_digits=1, timeout=5, hints="sales, support"
        )
        gather.say("Sorry, that is not one of the options.", voice="Polly.Amy", language="en-GB")
        gather.say(
            "Press 1 for sales, 2 for support, or 3 to leave a message.", voice="Polly.Amy", language="en-GB"
        )
        response.redirect(ACTION_URL)
        response.to_xml()
        bare_ns.append(time.perf_counter_ns() - began)
    us = 1000.0
    figures = {
        "step_p50_us": percentile(step_ns, 0.5) / us,
        "step_p99_us": percentile(step_ns, 0.99) / us,
        "step_fresh_render_p50_us": percentile(fresh_ns, 0.5) / us,
        "step_fresh_render_p99_us": percentile(fresh_ns, 0.99) / us,
        "advance_p50_us": percentile(advance_ns, 0.5) / us,
        "advance_p99_us": percentile(advance_ns, 0.99) / us,
        "state_roundtrip_p50_us": percentile(state_ns, 0.5) / us,
        "bare_twiml_p50_us": percentile(bare_ns, 0.5) / us,
    }
    figures["fresh_step_vs_bare_twiml_p50"] = (
        figures["step_fresh_render_p50_us"] / figures["bare_twiml_p50_us"]
    )
    return figures


def generated_flow(index: int, total: int) -> str:
    """A realistic flow: hours check, menu with speech, gather, HTTP lookup, branches, transfers, voicemail."""
    neighbour = (index + 1) % total
    return f"""\
# yaml-language-server: $schema=./schema.json
description: Generated line {index}
start: check
voice: Polly.Amy
language: en-GB
variables: {{ tier: basic }}
schedules:
  office:
    timezone: Europe/London
    weekly:
      - days: [mon, tue, wed, thu, fri]
        open: "09:00"
        close: "17:30"
    holidays: [2025-12-25]
steps:
  check:
    type: branch
    cases:
      - when: {{ business_hours: office }}
        goto: menu
      - when: {{ holiday: office }}
        goto: closed
    otherwise: closed
  menu:
    type: menu
    greeting: Line {index}. Press 1 for sales, 2 for your account, 3 for a message, 4 for line {neighbour}.
    short_greeting: Press 1, 2, 3 or 4.
    invalid_prompt: Sorry, that is not an option.
    timeout_prompt: Sorry, I did not hear you.
    speech: {{ "1": [sales], "2": [account], "3": [message] }}
    options: {{ "1": sales, "2": ask, "3": voicemail, "4": other, _: queue, timeout: queue }}
  ask:
    type: gather
    prompt: Please enter your account number.
    num_digits: 8
    into: account
    next: lookup
    on_failure: queue
  lookup:
    type: http
    url: https://crm{index}.example.com/accounts/{{{{ account }}}}
    results: {{ name: customer.name, tier: plan.tier }}
    next: greet
    on_error: sorry
  greet:
    type: say
    text: Hello {{{{ name }}}}.
    next: route
  route:
    type: branch
    cases:
      - when: {{ variable: tier, equals: premium }}
        goto: sales
    otherwise: queue
  sales:
    type: transfer
    agent: sales-{index}
    overrides: {{ account: "{{{{ account }}}}" }}
    on_failure: queue
  sorry:
    type: say
    text: Sorry, I could not find that account.
    next: queue
  queue:
    type: transfer
    number: "+44207946{index % 10000:04d}"
    on_failure: voicemail
  voicemail:
    type: record
    prompt: Please leave a message after the tone.
    into: message
    next: bye
  other:
    type: goto
    flow: flow_{neighbour:04d}
  closed:
    type: hangup
    prompt: We are closed.
    reason: closed
  bye:
    type: hangup
    prompt: Goodbye.
"""


def write_flows(directory: Path, count: int) -> None:
    for index in range(count):
        (directory / f"flow_{index:04d}.yaml").write_text(generated_flow(index, count))


def bench_load(directory: Path, count: int) -> dict[str, float]:
    registry = FlowRegistry(directory)
    began = time.perf_counter()
    problems = registry.load_all()
    seconds = time.perf_counter() - began
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors or len(registry.all()) != count:
        raise RuntimeError(f"generated flows do not load: {errors[:3]}")
    return {"load_flows": count, "load_seconds": seconds, "load_ms_per_flow": seconds * 1000 / count}


async def _reload_latencies(directory: Path, flow_id: str, reloads: int) -> list[float]:
    registry = FlowRegistry(directory)
    registry.load_all()
    path = directory / f"{flow_id}.yaml"
    original = path.read_text()
    stop = asyncio.Event()
    watcher = asyncio.create_task(registry.run_watcher(stop))
    await asyncio.sleep(0.3)
    latencies = []
    for attempt in range(reloads):
        edited = original.replace("Goodbye.", f"Goodbye ({attempt}).")
        before = registry.get(flow_id)
        path.write_text(edited)
        saved = time.perf_counter()
        while registry.get(flow_id) is before:
            await asyncio.sleep(0.002)
            if time.perf_counter() - saved > 10:
                raise RuntimeError("the watcher did not reload the flow")
        latencies.append((time.perf_counter() - saved) * 1000)
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(watcher, 5)
    return latencies


def bench_reload(large_dir: Path, reloads: int) -> dict[str, float]:
    large = asyncio.run(_reload_latencies(large_dir, "flow_0007", reloads))
    with tempfile.TemporaryDirectory() as small_name:
        small_dir = Path(small_name)
        for path in (ROOT / "ivr_flows").glob("*.yaml"):
            shutil.copy(path, small_dir / path.name)
        (small_dir / "main_menu.yaml").write_text(
            (small_dir / "main_menu.yaml")
            .read_text()
            .replace("Thank you for calling Acme. Goodbye.", "Goodbye.")
        )
        small = asyncio.run(_reload_latencies(small_dir, "main_menu", reloads))
    return {
        "reload_p50_ms": statistics.median(large),
        "reload_max_ms": max(large),
        "reload_sample_flows_p50_ms": statistics.median(small),
        "reload_sample_flows_max_ms": max(small),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--reloads", type=int, default=8)
    args = parser.parse_args()

    figures: dict[str, float] = {}
    figures.update(bench_steps(args.steps))
    print(
        f"advance + render per step: p50 {figures['step_p50_us']:.1f} us, p99 {figures['step_p99_us']:.1f} us; "
        f"with a fresh (unmemoised) render p50 {figures['step_fresh_render_p50_us']:.1f} us, "
        f"p99 {figures['step_fresh_render_p99_us']:.1f} us"
    )
    print(
        f"  advance alone p50 {figures['advance_p50_us']:.1f} us, p99 {figures['advance_p99_us']:.1f} us; "
        f"bare VoiceResponse of one menu turn p50 {figures['bare_twiml_p50_us']:.1f} us "
        f"(fresh step / bare = {figures['fresh_step_vs_bare_twiml_p50']:.2f}); "
        f"state encode+decode p50 {figures['state_roundtrip_p50_us']:.1f} us"
    )
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        write_flows(directory, args.flows)
        figures.update(bench_load(directory, args.flows))
        print(
            f"load + validate {args.flows} flow files: {figures['load_seconds']:.2f} s "
            f"({figures['load_ms_per_flow']:.2f} ms per flow)"
        )
        figures.update(bench_reload(directory, args.reloads))
    print(
        f"save -> new version served (watcher): p50 {figures['reload_p50_ms']:.0f} ms, "
        f"max {figures['reload_max_ms']:.0f} ms with {args.flows} flows; "
        f"p50 {figures['reload_sample_flows_p50_ms']:.0f} ms, max {figures['reload_sample_flows_max_ms']:.0f} ms "
        "with the sample flows"
    )
    figures["goals_met"] = float(
        figures["step_p99_us"] < 100 and figures["load_seconds"] < 2 and figures["reload_max_ms"] < 500
    )
    print(json.dumps({"benchmark": "ivr", **{key: round(value, 3) for key, value in figures.items()}}))


if __name__ == "__main__":
    main()
