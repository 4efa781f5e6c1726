"""The voice webhook and the gateway's action URLs: one call record per CallSid, one answer per request.

- Inbound: a new call record (numbers in E.164, trunk of the dialled number, ringing), routed and answered.
- Outbound (placed through `POST /v1/calls`): the record is found again by `?call=` or CallSid, and the requested
  flow runs or the requested agent is bridged.
- Action URLs (`/carriers/twilio/ivr?turn=k`, k from 1) carry the caller's input, a recording or a dial result back and
  advance the call. Retries of any of these get the stored answer and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gateway.calls.lifecycle import CallState, StatusUpdate, state_from_twilio
from gateway.calls.phone import to_e164
from gateway.calls.recordings import RecordingReport
from gateway.calls.store import CallEdit, CallRef, CallStore, NewCall
from gateway.carriers.twilio import answers
from gateway.carriers.twilio.callbacks import recording_rank
from gateway.carriers.twilio.conversation import CLAIM_SECONDS, VOICE, Conversation, load
from gateway.carriers.twilio.exchange import CallExists, Exchange
from gateway.carriers.twilio.params import VoiceRequest, parse_form
from gateway.carriers.twilio.responder import Responder, Unavailable
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.carriers.twilio.webhook import SignedWebhook
from gateway.db.models import Call
from gateway.db.types import utcnow
from gateway.ivr import (
    Digits,
    Event,
    RecordResult,
    Silence,
    Speech,
    TransferResult,
    input_is_sensitive,
    recorded_digits,
    render_twiml,
    twilio_event,
)
from routing.model import RouteQuery
from routing.numbers import is_canonical_e164, is_plausible_e164, is_withheld, sip_user_part

log = logging.getLogger("trunkline.twilio")

WAIT_POLL = 0.05
_ADDRESS_SCHEMES = ("sip:", "sips:", "client:")


# --- numbers ------------------------------------------------------------------------------------------------


def _e164(raw: str, region: str, field: str) -> str:
    """E.164 as Twilio sends it is kept as is when plausible (`is_plausible_e164`); anything else must parse as a
    valid number for the project's region."""
    if is_plausible_e164(raw):
        return raw
    return to_e164(raw, region, field).e164


def _address_number(raw: str) -> str:
    user = sip_user_part(raw)
    return user if is_canonical_e164(user) else ""


def caller_number(raw: str, region: str) -> str:
    """The caller in E.164; empty when withheld or not a phone number (a SIP or client address)."""
    if is_withheld(raw):
        return ""
    if raw.startswith(_ADDRESS_SCHEMES):
        return _address_number(raw)
    return _e164(raw, region, "From")


def called_number(raw: str, region: str) -> str:
    """The dialled number in E.164; SIP and client addresses keep no number (routing still sees the address)."""
    if raw.startswith(_ADDRESS_SCHEMES):
        return _address_number(raw)
    return _e164(raw, region, "To")


def sip_headers(params: dict[str, str]) -> dict[str, str]:
    """SIP headers Twilio passes on for SIP calls (`SipHeader_X-Foo`), for routes matching on headers."""
    return {name[10:]: value for name, value in params.items() if name.startswith("SipHeader_")}


# --- replies and retries ------------------------------------------------------------------------------------


async def wait_for_reply(runtime: TwilioRuntime, call_id: str, key: str) -> str | None:
    """The answer another request is preparing for `key` (a retry while LiveKit or a lookup is slow)."""
    deadline = time.monotonic() + CLAIM_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(WAIT_POLL)
        edit = await runtime.store.load(CallRef(call_id=call_id))
        if edit is None:
            return None
        conversation = load(edit.call)
        reply = conversation.reply_for(key)
        if reply is not None:
            return reply
        if not conversation.claimed(key):
            return None
    return None


async def stored_reply(runtime: TwilioRuntime, call: Call, key: str) -> str | None:
    conversation = load(call)
    reply = conversation.reply_for(key)
    if reply is None and conversation.claimed(key):
        reply = await wait_for_reply(runtime, call.id, key)
    return reply


def note_answered(edit: CallEdit, voice: VoiceRequest) -> None:
    """Every webhook carries the call's status: an in-progress call was answered, by the time it arrived at the
    latest (calls subscribed to the `completed` status callback only learn it this way)."""
    if voice.call_status == "in-progress" and edit.call.answered_at is None:
        update = StatusUpdate(state=CallState.ANSWERED, at=utcnow())
        edit.fold(update, source="twilio", data={"via": "webhook"})


# --- the voice webhook --------------------------------------------------------------------------------------


async def answer_voice(runtime: TwilioRuntime, hook: SignedWebhook, hint: str | None) -> str:
    voice = parse_form(VoiceRequest, hook.params)
    if voice.direction == "inbound" or voice.direction == "trunking-originating":
        return await _inbound(runtime, hook, voice)
    return await _outbound(runtime, hook, voice, hint)


def _new_inbound(
    store: CallStore, hook: SignedWebhook, voice: VoiceRequest, from_e164: str, to_e164: str
) -> CallEdit:
    account = hook.account
    edit = store.new(
        NewCall(
            project_id=account.project_id,
            direction="inbound",
            carrier="twilio",
            carrier_call_id=voice.call_sid,
            from_e164=from_e164,
            to_e164=to_e164,
            trunk_id=account.trunk_by_number.get(to_e164),
        )
    )
    edit.call.carrier_status = voice.call_status
    edit.fold(
        StatusUpdate(state=state_from_twilio(voice.call_status), at=edit.call.created_at),
        source="twilio",
        data={"via": "voice webhook"},
    )
    return edit


async def _inbound(runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest) -> str:
    """A new call is answered without reading the database (the account is cached) and created with its first
    events; only a CallSid already recorded (a retry) reads it."""
    region = hook.account.default_region
    from_e164, to_e164 = caller_number(voice.from_, region), called_number(voice.to, region)
    exchange = Exchange(
        runtime.store, _new_inbound(runtime.store, hook, voice, from_e164, to_e164), Conversation()
    )
    try:
        return await _answer_inbound(runtime, hook, voice, exchange)
    except CallExists:
        pass
    existing = await runtime.store.load(CallRef(carrier="twilio", carrier_call_id=voice.call_sid))
    if existing is None:
        raise LookupError("the call's CallSid conflicted but no call record has it")
    call = existing.call
    if call.project_id != hook.account.project_id:
        log.warning("voice webhook for a call of another project", extra={"call_id": call.id})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    reply = await stored_reply(runtime, call, VOICE)
    if reply is not None:
        return reply
    call.from_e164 = call.from_e164 or from_e164
    call.to_e164 = call.to_e164 or to_e164
    call.trunk_id = call.trunk_id or hook.account.trunk_by_number.get(to_e164)
    exchange = Exchange(runtime.store, existing, load(call))
    return await _answer_inbound(runtime, hook, voice, exchange)


async def _answer_inbound(
    runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest, exchange: Exchange
) -> str:
    call = exchange.call
    webhook = exchange.event("twilio.voice", {"call_status": voice.call_status, "direction": voice.direction})
    responder = Responder(runtime, hook, exchange, VOICE)
    incoming = RouteQuery(
        to=voice.to,
        from_=voice.from_,
        trunk=call.trunk_id,
        headers=sip_headers(hook.params),
        at=runtime.now(),
    )
    twiml = await responder.route(incoming)
    return await _finish(exchange, responder, VOICE, twiml, webhook)


async def _finish(
    exchange: Exchange, responder: Responder, key: str, twiml: str, webhook: dict[str, Any]
) -> str:
    """Remember the answer (for retries), note it on the webhook's event, and save everything."""
    exchange.conversation.remember(key, twiml)
    exchange.annotate(webhook, turn=exchange.conversation.turn, answer=responder.kind)
    await exchange.save()
    return twiml


async def _outbound_call(
    runtime: TwilioRuntime, hook: SignedWebhook, call_sid: str, hint: str | None
) -> CallEdit | None:
    if hint:
        edit = await runtime.store.load(CallRef(call_id=hint))
        if edit is not None:
            call = edit.call
            if (
                call.project_id == hook.account.project_id
                and call.carrier == "twilio"
                and call.carrier_call_id in (None, call_sid)
            ):
                return edit
    return await runtime.store.load(CallRef(carrier="twilio", carrier_call_id=call_sid))


async def _outbound(
    runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest, hint: str | None
) -> str:
    edit = await _outbound_call(runtime, hook, voice.call_sid, hint)
    if edit is None or edit.call.project_id != hook.account.project_id:
        log.warning("voice webhook for an outbound call this gateway did not place", extra={"hint": hint})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    call = edit.call
    reply = await stored_reply(runtime, call, VOICE)
    if reply is not None:
        return reply
    call.carrier_call_id = call.carrier_call_id or voice.call_sid
    note_answered(edit, voice)
    exchange = Exchange(runtime.store, edit, load(call))
    webhook = exchange.event("twilio.voice", {"call_status": voice.call_status, "direction": voice.direction})
    responder = Responder(runtime, hook, exchange, VOICE)
    twiml = await _answer_outbound(responder, exchange)
    return await _finish(exchange, responder, VOICE, twiml, webhook)


async def _answer_outbound(responder: Responder, exchange: Exchange) -> str:
    call = exchange.call
    if call.flow_id:
        answer = await responder.start_flow(call.flow_id)
        if isinstance(answer, str):
            return answer
        exchange.call.end_reason = f"flow {call.flow_id} is not loaded"
    else:
        agent = next((a for a in responder.account.agents.values() if a.id == call.agent_id), None)
        if agent is not None:
            config = call.meta.get("agent_config", agent.config)
            dial = await responder.bridge(agent, config)
            if not isinstance(dial, Unavailable):
                responder.kind = "bridge"
                return render_twiml([dial], action_url=responder.action_url())
        exchange.call.end_reason = "agent unavailable"
    responder.kind = "unavailable"
    return answers.goodbye(answers.UNAVAILABLE_MESSAGE)


# --- action URLs --------------------------------------------------------------------------------------------


def describe_input(event: Event, params: dict[str, str], sensitive: bool = True) -> dict[str, Any]:
    """The caller's input as a call event: private digits masked (`ivr.input_is_sensitive`), speech never stored."""
    match event:
        case Digits(digits=digits):
            return {"input": "digits", "digits": recorded_digits(digits, sensitive)}
        case Speech(confidence=confidence):
            return {"input": "speech", "confidence": confidence}
        case RecordResult(url=url, duration=duration):
            return {
                "input": "recording",
                "duration": duration,
                "recording_sid": params.get("RecordingSid"),
                "recording_url": url or None,
            }
        case TransferResult(status=status):
            code = params.get("DialSipResponseCode")
            return {
                "input": "dial",
                "status": status,
                "sip_code": int(code) if code and code.isdigit() else None,
            }
        case Silence():
            return {"input": "silence"}
    return {"input": type(event).__name__.lower()}


async def answer_action(runtime: TwilioRuntime, hook: SignedWebhook, turn: int) -> str:
    voice = parse_form(VoiceRequest, hook.params)
    edit = await runtime.store.load(CallRef(carrier="twilio", carrier_call_id=voice.call_sid))
    if edit is None or edit.call.project_id != hook.account.project_id:
        log.warning("action webhook for an unknown call", extra={"turn": turn})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    call = edit.call
    key = str(turn)
    reply = await stored_reply(runtime, call, key)
    if reply is not None:
        return reply
    conversation = load(call)
    if turn != conversation.turn:
        return conversation.latest_reply() or answers.hangup()
    note_answered(edit, voice)
    exchange = Exchange(runtime.store, edit, conversation)
    event = twilio_event(hook.params)
    sensitive = input_is_sensitive(conversation.ivr, runtime.flows(call.project_id))
    webhook = exchange.event(
        "twilio.input", {"turn": turn + 1, "reply_to": turn, **describe_input(event, hook.params, sensitive)}
    )
    if isinstance(event, RecordResult) and hook.first("RecordingSid"):
        edit.recording(
            RecordingReport(
                source="twilio",
                external_id=hook.params["RecordingSid"],
                status="completed",
                rank=recording_rank("completed"),
                url=event.url,
                duration=round(event.duration),
                meta={"source": "RecordVerb", "flow": call.flow_id},
            )
        )
    conversation.turn = turn + 1
    responder = Responder(runtime, hook, exchange, key)
    if conversation.ivr is not None and not conversation.ivr.ended:
        twiml = await responder.continue_flow(event)
    else:
        twiml = await responder.after_dial(event)
    return await _finish(exchange, responder, key, twiml, webhook)


async def answer_resume(runtime: TwilioRuntime, hook: SignedWebhook) -> str:
    """After call control played DTMF into the call: carry on with the latest answer."""
    voice = parse_form(VoiceRequest, hook.params)
    edit = await runtime.store.load(CallRef(carrier="twilio", carrier_call_id=voice.call_sid))
    if edit is None or edit.call.project_id != hook.account.project_id:
        return answers.hangup()
    return load(edit.call).latest_reply() or answers.hangup()
