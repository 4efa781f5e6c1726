"""IVR flows as files: the flow language, its loader and validator, hot reload, a pure engine, TwiML.

Operators keep one YAML file per flow in ``ivr_flows/`` (``<flow id>.yaml``); ``ivr_flows/README.md``
describes the language, ``ivr_flows/schema.json`` lets editors check it.

Public API (stable; other parts of the gateway call these)
-----------------------------------------------------------
Flows on disk (one registry per project; `FlowLibrary` keeps them, see `gateway.ivr.library` for the layout)::

    library = FlowLibrary(root: Path, default_project_id)
    library.registry(project_id) -> FlowRegistry       # that project's flows only
    await library.run_watcher(stop_event)               # hot reload of every project, for the app lifespan

    registry = FlowRegistry(flows_dir: Path)
    registry.load_all() -> list[FlowProblem]         # read and validate every flow (at start-up)
    registry.get(flow_id) -> LoadedFlow | None         # LoadedFlow: id, version, path, loaded_at, flow, text
    registry.all() -> list[LoadedFlow]
    registry.problems -> list[FlowProblem]             # per file, incl. broken edits shadowed by a good version
    await registry.run_watcher(stop_event)              # hot reload, for the app lifespan
    registry.write(flow_id, text) -> LoadedFlow        # validate, then atomic write; raises FlowInvalid
    registry.delete(flow_id) -> None                   # raises FlowInUse while other flows link to it
    registry.graph(flow_id) -> FlowGraph               # nodes/edges for the REST API; raises NotFound

    FlowProblem(file, line, col, step, message, hint, severity); str() -> "file:line:col: error: ... (hint)"
    FlowInvalid(AppError, 422): .problems

The engine (pure; no I/O; `flows` is the registry or any mapping of id -> LoadedFlow)::

    turn = start(flow: LoadedFlow, ctx: IvrContext, flows) -> Turn        # Turn(state, actions)
    turn = advance(state: IvrState, event: Event, flows, now=None) -> Turn
    IvrContext(caller, called, call_id, now: aware datetime, variables)
    encode_state(state) -> bytes / decode_state(bytes) -> IvrState       # store per call; any replica continues
    state.versions                                                         # ["main_menu@1a2b3c4d5e6f", ...]

    Events: Digits, Speech, Silence, HttpResult, TransferResult, RecordResult, CallerHangup
    Actions: Say, Play, Gather, Record, DialNumber, DialSip, ConnectAgent, HttpRequest, Hangup

Adapters::

    await drive(turn, flows, fetch) / drive_sync(...)   # perform HttpRequest actions, merge the turns
    await fetch_with_httpx(client, request) -> HttpResult
    render_twiml(actions, *, action_url, media_base_url=None) -> str      # resolve ConnectAgent to DialSip first
    twilio_event(params) -> Event                        # Gather/Record/Dial callback parameters -> event

Tools: ``gateway.ivr.cli.main(argv) -> int`` (lint, test, simulate, graph, schema); `trunkline flows ...`
delegates to it.
"""

from __future__ import annotations

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
from gateway.ivr.driver import drive, drive_sync, fetch_with_httpx
from gateway.ivr.engine import advance, start
from gateway.ivr.events import (
    CallerHangup,
    Digits,
    Event,
    HttpResult,
    RecordResult,
    Silence,
    Speech,
    TransferResult,
)
from gateway.ivr.flow import Flow, LoadedFlow
from gateway.ivr.graph import FlowGraph, GraphEdge, GraphNode, to_dot, to_mermaid
from gateway.ivr.library import FlowLibrary
from gateway.ivr.loader import load_flow_text
from gateway.ivr.problems import FlowInvalid, FlowProblem
from gateway.ivr.registry import FlowInUse, FlowRegistry
from gateway.ivr.run import FlowLookup
from gateway.ivr.sensitive import input_is_sensitive, recorded_digits, recorded_prompt
from gateway.ivr.state import IvrContext, IvrState, Outcome, Turn, decode_state, encode_state
from gateway.ivr.twiml import UnrenderableAction, render_twiml, twilio_event

__all__ = [
    "Action",
    "CallerHangup",
    "ConnectAgent",
    "DialNumber",
    "DialSip",
    "Digits",
    "Event",
    "Flow",
    "FlowGraph",
    "FlowInUse",
    "FlowInvalid",
    "FlowLibrary",
    "FlowLookup",
    "FlowProblem",
    "FlowRegistry",
    "Gather",
    "GraphEdge",
    "GraphNode",
    "Hangup",
    "HttpRequest",
    "HttpResult",
    "IvrContext",
    "IvrState",
    "LoadedFlow",
    "Outcome",
    "Play",
    "Record",
    "RecordResult",
    "Say",
    "Silence",
    "Speech",
    "TransferResult",
    "Turn",
    "UnrenderableAction",
    "advance",
    "decode_state",
    "drive",
    "drive_sync",
    "encode_state",
    "fetch_with_httpx",
    "input_is_sensitive",
    "load_flow_text",
    "recorded_digits",
    "recorded_prompt",
    "render_twiml",
    "start",
    "to_dot",
    "to_mermaid",
    "twilio_event",
]
