"""Flow tests: scripted callers with expected prompts, variables and outcome, kept next to the flows.

One file per flow under ``ivr_flows/tests/`` (any name ending .yaml); the format is described in
``ivr_flows/README.md``.
`trunkline flows test` runs them, and so does the pytest suite.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

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
from gateway.ivr.loader import display_path
from gateway.ivr.positions import SourceMap
from gateway.ivr.problems import FlowProblem
from gateway.ivr.run import FlowLookup
from gateway.ivr.session import Session, describe_state, transfer_target
from gateway.ivr.source import decode_yaml
from gateway.ivr.state import IvrContext

__all__ = [
    "FlowTestFile",
    "FlowTestResult",
    "find_test_files",
    "load_test_file",
    "run_test_file",
    "run_tests",
]

AwareTime = Annotated[
    datetime, msgspec.Meta(tz=True, description="Date and time with zone, e.g. 2025-03-04T10:00:00+00:00")
]
DEFAULT_TIME = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
"""A Tuesday morning, when no test gives a time."""


class CannedHttp(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A reply for HTTP lookups whose URL matches `url` (exact, or with * wildcards)."""

    url: str
    method: str | None = None
    status: int = 200
    json: Any = None
    error: Annotated[str | None, msgspec.Meta(description="Fail instead, e.g. timeout")] = None

    def matches(self, request: HttpRequest) -> bool:
        if self.method is not None and self.method.upper() != request.method:
            return False
        return request.url == self.url or fnmatch.fnmatchcase(request.url, self.url)

    def result(self) -> HttpResult:
        if self.error is not None:
            return HttpResult(error=self.error)
        return HttpResult(status=self.status, body=self.json)


class ScriptStep(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One thing that happens: exactly one of these keys."""

    hear: Annotated[str | None, msgspec.Meta(description="Text the caller heard since their last input")] = (
        None
    )
    press: Annotated[
        str | None, msgspec.Meta(description='Keys the caller presses, e.g. "1" or "12345678"')
    ] = None
    say: Annotated[str | None, msgspec.Meta(description="Words the caller says")] = None
    silence: Annotated[bool | None, msgspec.Meta(description="The caller stays silent (true)")] = None
    transfer: Annotated[TransferStatus | None, msgspec.Meta(description="How the pending transfer ends")] = (
        None
    )
    record: Annotated[int, msgspec.Meta(ge=0, description="Seconds recorded (0: nothing)")] | None = None
    hangup: Annotated[bool | None, msgspec.Meta(description="The caller hangs up (true)")] = None

    def __post_init__(self) -> None:
        given = [name for name in self.__struct_fields__ if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "each script line has exactly one of: hear, press, say, silence, transfer, record, hangup"
            )


class Expect(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    outcome: Annotated[
        str | None,
        msgspec.Meta(
            description="How it ends, e.g. `hangup: after_hours`, `transferred`, `waiting: input` (prefix)"
        ),
    ] = None
    transfer_to: Annotated[
        str | None, msgspec.Meta(description="Last transfer: `agent x`, `number +44...`")
    ] = None
    step: Annotated[str | None, msgspec.Meta(description="Step the call is at in the end")] = None
    heard: Annotated[list[str], msgspec.Meta(description="Texts heard during the call, in this order")] = (
        msgspec.field(default_factory=list)
    )
    not_heard: list[str] = msgspec.field(default_factory=list)
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    requests: Annotated[list[str], msgspec.Meta(description="URLs looked up, in order")] | None = None


class FlowTest(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    name: str
    script: list[ScriptStep] = msgspec.field(default_factory=list)
    expect: Expect = msgspec.field(default_factory=Expect)
    caller: str | None = None
    called: str | None = None
    at: AwareTime | None = None
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    http: list[CannedHttp] = msgspec.field(default_factory=list)


class FlowTestFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Tests of one flow. `caller`, `called`, `at` and `http` here apply to every test that does not set them."""

    flow: str
    tests: Annotated[list[FlowTest], msgspec.Meta(min_length=1)]
    caller: str = "+447911123000"
    called: str = "+442079460000"
    at: AwareTime | None = None
    http: list[CannedHttp] = msgspec.field(default_factory=list)


class FlowTestResult(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    line: int
    name: str
    failures: list[str]
    transcript: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        if self.passed:
            return f"{self.file}:{self.line}: ok: {self.name}"
        return f"{self.file}:{self.line}: FAIL: {self.name}: " + "; ".join(self.failures)


def find_test_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return found


def load_test_file(path: Path) -> tuple[FlowTestFile | None, list[FlowProblem], SourceMap]:
    decoded = decode_yaml(path.read_bytes(), FlowTestFile, file=display_path(path))
    return decoded.value, decoded.problems, decoded.source


def canned_replies(paths: Iterable[Path], flow_id: str) -> list[CannedHttp]:
    """The canned HTTP replies of `flow_id`'s tests, for `flows simulate`: the files' own first (what every test
    gets), then the single tests' (scenarios such as a timeout, for URLs the files do not cover)."""
    suites = [suite for path in find_test_files(paths) if (suite := load_test_file(path)[0]) is not None]
    mine = [suite for suite in suites if suite.flow == flow_id]
    return [
        *(reply for suite in mine for reply in suite.http),
        *(reply for suite in mine for test in suite.tests for reply in test.http),
    ]


def canned_fetch(replies: list[CannedHttp]) -> Callable[[HttpRequest], HttpResult]:
    """HTTP lookups answered from `replies` (the first that matches); no match is a failed lookup."""

    def fetch(request: HttpRequest) -> HttpResult:
        for reply in replies:
            if reply.matches(request):
                return reply.result()
        return HttpResult(error="no canned reply")

    return fetch


def run_tests(paths: Iterable[Path], flows: FlowLookup) -> tuple[list[FlowTestResult], list[FlowProblem]]:
    results: list[FlowTestResult] = []
    problems: list[FlowProblem] = []
    for path in find_test_files(paths):
        suite, found, source = load_test_file(path)
        problems.extend(found)
        if suite is not None:
            results.extend(run_test_file(suite, flows, file=display_path(path), source=source))
    return results, problems


def run_test_file(
    suite: FlowTestFile, flows: FlowLookup, *, file: str, source: SourceMap | None = None
) -> list[FlowTestResult]:
    results = []
    for index, test in enumerate(suite.tests):
        line = source.mark(("tests", index))[0] if source is not None else 0
        failures, transcript = _run(suite, test, flows)
        results.append(
            FlowTestResult(file=file, line=line, name=test.name, failures=failures, transcript=transcript)
        )
    return results


def _run(suite: FlowTestFile, test: FlowTest, flows: FlowLookup) -> tuple[list[str], list[str]]:
    flow = flows.get(suite.flow)
    if flow is None:
        return [f"flow '{suite.flow}' is not loaded (does it have errors? run `flows lint`)"], []
    canned = [*test.http, *suite.http]
    unmatched: list[str] = []

    def fetch(request: HttpRequest) -> HttpResult:
        for reply in canned:
            if reply.matches(request):
                return reply.result()
        unmatched.append(f"{request.method} {request.url}")
        return HttpResult(error="no canned reply")

    context = IvrContext(
        caller=test.caller or suite.caller,
        called=test.called or suite.called,
        call_id="CA" + "0" * 32,
        now=test.at or suite.at or DEFAULT_TIME,
        variables=dict(test.variables),
    )
    session = Session(flow, context, flows, fetch)
    recent = session.heard_last()
    for number, line in enumerate(test.script, start=1):
        if line.hear is not None:
            if not any(line.hear.casefold() in text.casefold() for text in recent):
                return [
                    f"script line {number}: expected to hear {line.hear!r}, heard {recent!r}"
                ], session.heard_all()
            continue
        event, wanted = _event(line)
        if session.state.wait not in wanted:
            why = f"the call is {describe_state(session.state)}"
            return [f"script line {number}: cannot {_verb(line)}: {why}"], session.heard_all()
        session.send(event)
        recent = session.heard_last()
    failures = [f"no canned HTTP reply for {request}" for request in unmatched]
    failures.extend(_check(test.expect, session))
    return failures, session.heard_all()


def _event(line: ScriptStep) -> tuple[Event, tuple[str, ...]]:
    if line.press is not None:
        return Digits(digits=line.press), ("input",)
    if line.say is not None:
        return Speech(text=line.say), ("input",)
    if line.silence:
        return Silence(), ("input", "record")
    if line.transfer is not None:
        return TransferResult(status=line.transfer), ("transfer",)
    if line.record is not None:
        if line.record == 0:
            return Silence(), ("record",)
        return RecordResult(url="https://recordings.test/message.wav", duration=line.record), ("record",)
    return CallerHangup(), ("input", "record", "transfer", "http")


def _verb(line: ScriptStep) -> str:
    return next(name for name in line.__struct_fields__ if getattr(line, name) is not None)


def _check(expect: Expect, session: Session) -> list[str]:
    failures = []
    state = session.state
    outcome = describe_state(state)
    if expect.outcome is not None and not outcome.casefold().startswith(expect.outcome.casefold()):
        failures.append(f"expected outcome {expect.outcome!r}, got {outcome!r}")
    if expect.step is not None and state.step != expect.step:
        failures.append(f"expected to end at step {expect.step!r}, got {state.step!r}")
    if expect.transfer_to is not None:
        targets = [t for turn in session.turns for action in turn.actions if (t := transfer_target(action))]
        last = targets[-1] if targets else None
        if last != expect.transfer_to:
            failures.append(f"expected transfer to {expect.transfer_to!r}, got {last!r}")
    everything = session.heard_all()
    position = 0
    for text in expect.heard:
        found = next(
            (i for i in range(position, len(everything)) if text.casefold() in everything[i].casefold()), None
        )
        if found is None:
            failures.append(f"expected to hear {text!r} (in order); heard {everything!r}")
            break
        position = found + 1
    for text in expect.not_heard:
        if any(text.casefold() in heard.casefold() for heard in everything):
            failures.append(f"did not expect to hear {text!r}")
    for name, value in expect.variables.items():
        actual = state.variables.get(name)
        if actual != value:
            failures.append(f"expected variable {name} = {value!r}, got {actual!r}")
    if expect.requests is not None:
        urls = [request.url for request in session.requests]
        if urls != expect.requests:
            failures.append(f"expected HTTP lookups {expect.requests!r}, got {urls!r}")
    return failures
