"""Building flows from YAML text in tests (through the real loader) and driving calls."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from gateway.ivr import FlowInvalid, FlowProblem, HttpResult, IvrContext, LoadedFlow, load_flow_text
from gateway.ivr.actions import HttpRequest
from gateway.ivr.session import Session

REPO = Path(__file__).resolve().parents[3]
SAMPLE_FLOWS = REPO / "ivr_flows"
TUESDAY_10AM = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def flow(text: str, flow_id: str = "f", *, others: dict[str, LoadedFlow] | None = None) -> LoadedFlow:
    return load_flow_text(textwrap.dedent(text), flow_id, others=others)


def problems_of(
    text: str, flow_id: str = "f", *, others: dict[str, LoadedFlow] | None = None
) -> list[FlowProblem]:
    try:
        flow(text, flow_id, others=others)
    except FlowInvalid as invalid:
        return invalid.problems
    return []


def context(caller: str = "+447911123000", now: datetime = TUESDAY_10AM, **variables: str) -> IvrContext:
    return IvrContext(
        caller=caller, called="+442079460000", call_id="CA" + "1" * 32, now=now, variables=variables
    )


def no_http(request: HttpRequest) -> HttpResult:
    raise AssertionError(f"unexpected HTTP request {request.url}")


def session(
    loaded: LoadedFlow,
    flows: dict[str, LoadedFlow] | None = None,
    ctx: IvrContext | None = None,
    fetch=no_http,
) -> Session:
    return Session(loaded, ctx or context(), flows or {loaded.id: loaded}, fetch)
