"""Turning a routing decision, an IVR turn or a dial result into the TwiML answer for one webhook.

Control moves inward (routing, the IVR engine) and out through adapters: LiveKit for agent bridges, httpx for a
flow's HTTP lookups, TwiML for Twilio. Everything learnt on the way is recorded on the call (`Exchange`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from gateway.calls import metrics
from gateway.calls.guard import DestinationRefused
from gateway.calls.outbound import deep_merge
from gateway.carriers.twilio import answers
from gateway.carriers.twilio.bridge import (
    CALL_ID_HEADER,
    BridgeFailed,
    BridgeRequest,
    dial_livekit,
    open_bridge,
)
from gateway.carriers.twilio.directory import AgentInfo
from gateway.carriers.twilio.exchange import Exchange
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.carriers.twilio.webhook import SignedWebhook
from gateway.db.models import Call
from gateway.flow_secrets import secret_values
from gateway.ivr import (
    Action,
    ConnectAgent,
    DialNumber,
    DialSip,
    Event,
    FlowRegistry,
    HttpRequest,
    HttpResult,
    IvrContext,
    RecordResult,
    TransferResult,
    Turn,
    advance,
    drive,
    fetch_with_httpx,
    recorded_prompt,
    render_twiml,
    start,
)
from gateway.ivr.driver import describe_lookup, pending_request
from gateway.ivr.secrets import MissingSecrets, reveal, secret_names
from gateway.ivr.session import heard
from gateway.livekit.bridging import bridge_credentials
from routing.matching import requirements
from routing.model import (
    AgentTarget,
    Decision,
    FlowTarget,
    ForwardTarget,
    RejectTarget,
    RouteQuery,
    Target,
    VoicemailTarget,
    target_label,
)

log = logging.getLogger("trunkline.twilio")

MAX_ROUTING_ATTEMPTS = 4
MAX_IVR_RESOLUTIONS = 6


class Unavailable(msgspec.Struct, frozen=True):
    """A target that cannot take the call now; `key` is its routing requirement (`livekit`, `flow:main`...),
    `reason` what the call record says about it."""

    key: str
    reason: str


def unavailable_reason(key: str) -> str:
    """Why a routing requirement known before trying (`DirectoryAccount.unavailable`) cannot be met."""
    kind, _, name = key.partition(":")
    if kind == "agent":
        return f"agent {name!r} not found in this project"
    if kind == "flow":
        return f"flow {name!r} is not loaded (missing, or its file has errors)"
    if kind == "livekit":
        return "LiveKit is not configured"
    return f"{key} unavailable"


class Responder:
    """Answers for one webhook (`key`: `voice` or the turn it answers) of one call."""

    def __init__(self, runtime: TwilioRuntime, hook: SignedWebhook, exchange: Exchange, key: str) -> None:
        self.rt = runtime
        self.hook = hook
        self.ex = exchange
        self.key = key
        self.account = hook.account
        self.kind = "hangup"
        """What the answer does, for the call's events: ivr, bridge, forward, voicemail, reject, not_routed..."""
        self._unavailable_told: set[tuple[str, str]] = set()

    @property
    def call(self) -> Call:
        return self.ex.call

    @property
    def flows(self) -> FlowRegistry:
        """The flows of the call's project (the route's): no other project's flow can run on this call."""
        return self.rt.flows(self.account.project_id)

    def action_url(self) -> str:
        return f"{self.hook.base_url}/carriers/twilio/ivr?turn={self.ex.conversation.turn}"

    # --- routing --------------------------------------------------------------------------------------------

    async def route(self, incoming: RouteQuery) -> str:
        """Resolve the call and answer its target; a target that turns out unavailable is routed around."""
        unavailable = self.account.unavailable(livekit_ready=self.rt.livekit_ready(self.account))
        for _ in range(MAX_ROUTING_ATTEMPTS):
            decision = self.account.index.resolve(incoming, unavailable)
            self._record_decision(decision, unavailable)
            answer = await self.target(decision.target, decision)
            if isinstance(answer, str):
                return answer
            self._unavailable(decision.target, answer.reason)
            unavailable = unavailable | {answer.key}
        self.kind = "unavailable"
        self.call.end_reason = "not routed: every target was unavailable"
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)

    def _record_decision(self, decision: Decision, unavailable: frozenset[str]) -> None:
        self.call.route_id = decision.route_id
        self.call.routing = msgspec.to_builtins(decision)
        for entry in decision.trace:
            route = self.account.routes_by_id.get(entry.route_id)
            if route is None or not (entry.outcome == "unavailable" or entry.route_id == decision.route_id):
                continue
            passed_over = [route.target] if entry.outcome == "matched" and decision.used_fallback else []
            if entry.outcome == "unavailable":
                passed_over = [route.target, *([route.fallback] if route.fallback is not None else [])]
            for target in passed_over:
                for key in sorted(requirements(target) & unavailable):
                    self._unavailable(target, unavailable_reason(key), route_id=entry.route_id)
        self.ex.event(
            "routing.decided",
            {
                "route_id": decision.route_id,
                "route_name": decision.route_name,
                "target": target_label(decision.target),
                "reason": decision.reason,
                "used_fallback": decision.used_fallback,
            },
            source="gateway",
        )

    def _unavailable(self, target: Target, reason: str, *, route_id: str | None = None) -> None:
        """Record why a target could not take the call (the caller goes elsewhere or hears an apology), once."""
        if (target_label(target), reason) in self._unavailable_told:
            return
        self._unavailable_told.add((target_label(target), reason))
        data: dict[str, Any] = {"target": target_label(target), "reason": reason}
        if route_id is not None:
            data["route_id"] = route_id
        self.ex.event("target.unavailable", data, source="gateway")

    def _route_fallback(self, decision: Decision | None) -> Target | None:
        if decision is None or decision.route_id is None or decision.used_fallback:
            return None
        route = self.account.routes_by_id.get(decision.route_id)
        return route.fallback if route is not None else None

    async def target(self, target: Target, decision: Decision | None = None) -> str | Unavailable:
        """The answer for a routing target, or which requirement made it unavailable."""
        self.ex.conversation.fallback = None
        match target:
            case FlowTarget(flow=flow_id, variables=variables):
                return await self.start_flow(flow_id, variables)
            case AgentTarget(agent=name, overrides=overrides):
                agent = self.account.agents.get(name)
                if agent is None:
                    return Unavailable(f"agent:{name}", unavailable_reason(f"agent:{name}"))
                dial = await self.bridge(agent, deep_merge(agent.config, overrides))
                if isinstance(dial, Unavailable):
                    return dial
                self.kind = "bridge"
                self.ex.conversation.fallback = self._route_fallback(decision)
                return render_twiml([dial], action_url=self.action_url())
            case ForwardTarget():
                refused = self._refused(target.number or target.sip_uri or "", target_label(target))
                if refused is not None:
                    return await self._forward_refused(refused, decision)
                self.kind = "forward"
                self.ex.conversation.fallback = self._route_fallback(decision)
                self.ex.event("transfer.requested", {"to": "number" if target.number else "sip"})
                return answers.forward(target, action_url=self.action_url())
            case VoicemailTarget(box=box):
                self.kind = "voicemail"
                self.call.meta = {**self.call.meta, "voicemail_box": box or "default"}
                return answers.voicemail(
                    action_url=self.action_url(),
                    recording_callback_url=f"{self.hook.base_url}/carriers/twilio/recording",
                )
            case RejectTarget():
                if decision is not None and decision.route_id is None:
                    self.kind = "not_routed"
                    self.call.end_reason = f"not routed: {decision.reason}"
                    return answers.goodbye(answers.NOT_ROUTED_MESSAGE)
                self.kind = "reject"
                why = f": {decision.reason}" if decision is not None else ""
                self.call.end_reason = f"rejected ({target.reason}){why}"
                self.call.sip_status = self.call.sip_status or target.sip_status
                return answers.reject(target)

    def _refused(self, destination: str, target: str) -> DestinationRefused | None:
        """Why the project's calls may not go to `destination` (the toll-fraud guard), or None."""
        try:
            self.account.destinations.check(destination)
        except DestinationRefused as refused:
            self.ex.event("transfer.refused", {"reason": refused.detail}, source="gateway")
            self.ex.event(
                "target.unavailable",
                {"target": target, "reason": f"destination refused: {refused.detail}"},
                source="gateway",
            )
            return refused
        return None

    async def _forward_refused(self, refused: DestinationRefused, decision: Decision | None) -> str:
        """A forward the guard refuses: the route's fallback takes the call, else the caller hears an apology."""
        fallback = self._route_fallback(decision)
        if fallback is not None:
            self.ex.event("routing.fallback", {"target": target_label(fallback)}, source="gateway")
            answer = await self.target(fallback)
            if isinstance(answer, str):
                return answer
        self.kind = "unavailable"
        self.call.end_reason = "forward refused by the destination policy"
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)

    async def bridge(
        self, agent: AgentInfo, config: dict[str, Any], ring_seconds: int = 30
    ) -> DialSip | Unavailable:
        """Room and dispatch in LiveKit, then the `<Dial><Sip>` into it; why not when LiveKit cannot take the
        call."""
        credentials = self.account.livekit
        sip = self.rt.settings.livekit_sip_uri
        conversation = self.ex.conversation
        if credentials is None or not sip:
            reason = "LiveKit is not configured"
            self.ex.event("bridge.failed", {"agent": agent.name, "reason": reason})
            return Unavailable("livekit", reason)
        call = self.call
        request = BridgeRequest(
            call_id=call.id,
            call_sid=call.carrier_call_id or "",
            agent=agent.name,
            config=config,
            number=call.to_e164 if call.direction == "inbound" else call.from_e164,
            caller=call.from_e164,
            called=call.to_e164,
            direction=call.direction,
            first_in_room=not conversation.dispatched,
            timeout=ring_seconds,
        )
        self.ex.event("bridge.requested", {"agent": agent.name, "room": request.room}, source="gateway")
        await self.ex.checkpoint(self.key)
        call = self.call  # the saved record
        try:
            await open_bridge(await self.rt.livekit.get(credentials), request)
        except BridgeFailed as failure:
            log.warning(
                "agent bridge failed: %s", failure.reason, extra={"call_id": call.id, "agent": agent.name}
            )
            self.ex.event("bridge.failed", {"agent": agent.name, "reason": failure.reason}, source="livekit")
            return Unavailable("livekit", f"LiveKit could not take the call: {failure.reason}")
        if agent.name not in conversation.dispatched:
            conversation.dispatched.append(agent.name)
        call.livekit_room = request.room
        call.agent_id = agent.id
        self.ex.event("bridge.ready", {"agent": agent.name, "room": request.room}, source="livekit")
        return dial_livekit(sip, request, bridge_credentials(self.account.project_id, credentials.api_secret))

    # --- IVR ------------------------------------------------------------------------------------------------

    async def start_flow(self, flow_id: str, variables: dict[str, str] | None = None) -> str | Unavailable:
        loaded = self.flows.get(flow_id)
        if loaded is None:
            return Unavailable(f"flow:{flow_id}", unavailable_reason(f"flow:{flow_id}"))
        call = self.call
        call.flow_id, call.flow_version = loaded.id, loaded.version
        # The flow's caller is the person on the line: the callee of an outbound call.
        inbound = call.direction == "inbound"
        remote, local = (call.from_e164, call.to_e164) if inbound else (call.to_e164, call.from_e164)
        context = IvrContext(
            caller=remote, called=local, call_id=call.id, now=self.rt.now(), variables=dict(variables or {})
        )
        return await self.run_ivr(start(loaded, context, self.flows))

    async def continue_flow(self, event: Event) -> str:
        state = self.ex.conversation.ivr
        assert state is not None
        return await self.run_ivr(advance(state, event, self.flows, now=self.rt.now()))

    async def _fetch(self, request: HttpRequest) -> HttpResult:
        started = time.monotonic()
        try:
            values = await secret_values(
                self.rt.services.database, self.account.project_id, secret_names(request)
            )
            result = await fetch_with_httpx(self.rt.http, reveal(request, values))
        except MissingSecrets as missing:
            log.warning("ivr http lookup names missing flow secrets", extra={"secrets": missing.names})
            result = HttpResult(error=f"unknown flow secrets: {', '.join(missing.names)}")
        described = describe_lookup(request, result, time.monotonic() - started)
        self.ex.event("ivr.lookup", described, source="gateway")
        metrics.ivr_lookup(str(described["outcome"]))
        return result

    async def run_ivr(self, turn: Turn) -> str:
        """Resolve the turn's lookups and agent connections, then render it; the state goes into the call."""
        flows = self.flows
        for _ in range(MAX_IVR_RESOLUTIONS):
            if pending_request(turn) is not None:
                await self.ex.checkpoint(self.key)
                turn = await drive(turn, flows, self._fetch, now=self.rt.now())
                continue
            last = turn.actions[-1] if turn.actions else None
            if isinstance(last, DialNumber | DialSip) and CALL_ID_HEADER not in getattr(last, "headers", {}):
                destination = last.number if isinstance(last, DialNumber) else last.uri
                kind = "number" if isinstance(last, DialNumber) else "sip"
                if self._refused(destination, kind) is None:
                    break
                turn = self._transfer_failed(turn, turn.actions[:-1])
                continue
            if not isinstance(last, ConnectAgent):
                break
            agent = self.account.agents.get(last.agent)
            if agent is not None:
                dial = await self.bridge(agent, deep_merge(agent.config, last.overrides), last.timeout)
            else:
                dial = Unavailable(f"agent:{last.agent}", unavailable_reason(f"agent:{last.agent}"))
                self.ex.event("bridge.failed", {"agent": last.agent, "reason": "no such agent"})
            if not isinstance(dial, Unavailable):
                turn = Turn(turn.state, [*turn.actions[:-1], dial], turn.steps)
                break
            self.ex.event(
                "target.unavailable",
                {"target": f"agent:{last.agent}", "reason": dial.reason},
                source="gateway",
            )
            # The caller is not told "connecting you" when the gateway already knows nobody will answer.
            kept = turn.actions[: len(turn.actions) - 1 - last.announcement]
            turn = self._transfer_failed(turn, kept)
        return self._render_turn(turn)

    def _transfer_failed(self, turn: Turn, kept: list[Action]) -> Turn:
        """The flow's transfer could not be tried: the flow goes on as after a failed transfer."""
        after = advance(turn.state, TransferResult(status="failed"), self.flows, now=self.rt.now())
        return Turn(after.state, [*kept, *after.actions], [*turn.steps, *after.steps])

    def _render_turn(self, turn: Turn) -> str:
        state = turn.state
        self.ex.conversation.ivr = state
        self.kind = "ivr"
        metrics.ivr_steps(turn.steps)
        number = self.ex.conversation.turn
        self.ex.event(
            "ivr.step",
            {
                "turn": number,
                "flow": state.flow,
                "step": state.step,
                "wait": state.wait,
                "version": state.versions[-1] if state.versions else None,
                "actions": [type(action).__name__ for action in turn.actions],
                "steps_run": turn.steps,
                **({"outcome": str(state.outcome)} if state.outcome is not None else {}),
            },
            source="gateway",
        )
        for text in heard(turn.actions):
            self.ex.event("ivr.prompt", {"turn": number, "text": recorded_prompt(text)}, source="gateway")
        last = turn.actions[-1] if turn.actions else None
        if isinstance(last, DialNumber) or (isinstance(last, DialSip) and CALL_ID_HEADER not in last.headers):
            self.ex.event("transfer.requested", {"to": "number" if isinstance(last, DialNumber) else "sip"})
        if state.ended and state.outcome is not None:
            self.call.end_reason = f"ivr {state.outcome}"
        return render_twiml(turn.actions, action_url=self.action_url())

    # --- after a dial or a recording without a flow ----------------------------------------------------------

    async def after_dial(self, event: Event) -> str:
        """A bridge, forward or voicemail of a routed call ended: hang up, or try the route's fallback."""
        conversation = self.ex.conversation
        if isinstance(event, RecordResult):
            self.kind = "hangup"
            return answers.goodbye("Thank you, your message has been recorded. Goodbye.")
        if isinstance(event, TransferResult) and event.status != "completed" and conversation.fallback:
            fallback, conversation.fallback = conversation.fallback, None
            self.ex.event("routing.fallback", {"target": target_label(fallback)}, source="gateway")
            answer = await self.target(fallback)
            if isinstance(answer, str):
                return answer
        self.kind = "hangup"
        if isinstance(event, TransferResult) and event.status != "completed":
            return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
        return answers.hangup()
