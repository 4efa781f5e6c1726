"""The voice webhook and the gateway's action URLs: one call record per CallSid, one answer per request.

- Inbound: a new call record (numbers in E.164, trunk of the dialled number, ringing), routed and answered.
- Outbound (placed through `POST /v1/calls`): the record is found again by `?call=` or CallSid, and the requested
  flow runs or the requested agent is bridged.
- Action URLs (`/carriers/twilio/ivr?turn=k`) carry the caller's input, a recording or a dial result back and
  advance the call. Retries of any of these get the stored answer and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.phone import to_e164
from gateway.calls.draft import CallDraft
from gateway.calls.lifecycle import CallSnapshot, CallState, StatusUpdate, state_from_twilio, transition
from gateway.calls.records import apply_status, find_call
from gateway.carriers.twilio import answers
from gateway.carriers.twilio.conversation import CLAIM_SECONDS, VOICE, Conversation, load
from gateway.carriers.twilio.exchange import CallExists, Exchange
from gateway.carriers.twilio.params import VoiceRequest, parse_form
from gateway.carriers.twilio.recordings import upsert_recording
from gateway.carriers.twilio.responder import Responder
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.carriers.twilio.webhook import SignedWebhook
from gateway.db.models import Call
from gateway.db.types import utcnow
from gateway.ids import new_id
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
from routing.model import Call as RoutingCall
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


async def wait_for_reply(db: AsyncSession, call_id: str, key: str) -> str | None:
    """The answer another request is preparing for `key` (a retry while LiveKit or a lookup is slow)."""
    deadline = time.monotonic() + CLAIM_SECONDS
    while time.monotonic() < deadline:
        await db.commit()
        await asyncio.sleep(WAIT_POLL)
        call = await db.get(Call, call_id, populate_existing=True)
        if call is None:
            return None
        conversation = load(call)
        reply = conversation.reply_for(key)
        if reply is not None:
            return reply
        if not conversation.claimed(key):
            return None
    return None


async def stored_reply(db: AsyncSession, call: Call, key: str) -> str | None:
    conversation = load(call)
    reply = conversation.reply_for(key)
    if reply is None and conversation.claimed(key):
        reply = await wait_for_reply(db, call.id, key)
    return reply


async def note_answered(db: AsyncSession, call: Call, voice: VoiceRequest) -> None:
    """Every webhook carries the call's status: an in-progress call was answered, by the time it arrived at the
    latest (calls subscribed to the `completed` status callback only learn it this way)."""
    if voice.call_status == "in-progress" and call.answered_at is None:
        update = StatusUpdate(state=CallState.ANSWERED, at=utcnow())
        await apply_status(db, call, update, source="twilio", data={"via": "webhook"})


# --- the voice webhook --------------------------------------------------------------------------------------


async def answer_voice(
    db: AsyncSession, runtime: TwilioRuntime, hook: SignedWebhook, hint: str | None
) -> str:
    voice = parse_form(VoiceRequest, hook.params)
    if voice.direction == "inbound" or voice.direction == "trunking-originating":
        return await _inbound(db, runtime, hook, voice)
    return await _outbound(db, runtime, hook, voice, hint)


def _new_inbound(hook: SignedWebhook, voice: VoiceRequest, from_e164: str, to_e164: str) -> CallDraft:
    now = utcnow()
    ringing = transition(
        CallSnapshot(initiated_at=now), StatusUpdate(state=state_from_twilio(voice.call_status), at=now)
    ).snapshot
    account = hook.account
    return CallDraft(
        id=new_id("call"),
        project_id=account.project_id,
        direction="inbound",
        carrier="twilio",
        carrier_call_id=voice.call_sid,
        from_e164=from_e164,
        to_e164=to_e164,
        trunk_id=account.trunk_by_number.get(to_e164),
        status=ringing.state.value,
        created_at=now,
        updated_at=now,
        ringing_at=ringing.ringing_at,
        answered_at=ringing.answered_at,
        lifecycle=_builtins(ringing),
        carrier_status=voice.call_status,
    )


def _builtins(snapshot: CallSnapshot) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(snapshot)
    return result


async def _inbound(db: AsyncSession, runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest) -> str:
    """A new call is answered without reading the database (the account is cached) and inserted with its first
    events by the group-commit writer; only a CallSid already recorded (a retry) reads it."""
    region = hook.account.default_region
    from_e164, to_e164 = caller_number(voice.from_, region), called_number(voice.to, region)
    call = _new_inbound(hook, voice, from_e164, to_e164)
    exchange = Exchange(db, call, Conversation(), is_new=True, writer=runtime.writer)
    exchange.event(f"status.{call.status}", {"outcome": "applied", "reason": "voice webhook"})
    try:
        return await _answer_inbound(runtime, hook, voice, exchange)
    except CallExists:
        pass
    existing = await find_call(db, "twilio", voice.call_sid, lock=True)
    if existing is None:
        raise LookupError("the call's CallSid conflicted but no call record has it")
    if existing.project_id != hook.account.project_id:
        log.warning("voice webhook for a call of another project", extra={"call_id": existing.id})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    reply = await stored_reply(db, existing, VOICE)
    if reply is not None:
        return reply
    existing.from_e164 = existing.from_e164 or from_e164
    existing.to_e164 = existing.to_e164 or to_e164
    existing.trunk_id = existing.trunk_id or hook.account.trunk_by_number.get(to_e164)
    exchange = Exchange(db, existing, load(existing), is_new=False)
    return await _answer_inbound(runtime, hook, voice, exchange)


async def _answer_inbound(
    runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest, exchange: Exchange
) -> str:
    call = exchange.call
    webhook = exchange.event("twilio.voice", {"call_status": voice.call_status, "direction": voice.direction})
    responder = Responder(runtime, hook, exchange, VOICE)
    incoming = RoutingCall(
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
    db: AsyncSession, hook: SignedWebhook, call_sid: str, hint: str | None
) -> Call | None:
    if hint:
        call = await db.get(Call, hint, with_for_update=True)
        if (
            call is not None
            and call.project_id == hook.account.project_id
            and call.carrier == "twilio"
            and call.carrier_call_id in (None, call_sid)
        ):
            return call
    return await find_call(db, "twilio", call_sid, lock=True)


async def _outbound(
    db: AsyncSession, runtime: TwilioRuntime, hook: SignedWebhook, voice: VoiceRequest, hint: str | None
) -> str:
    call = await _outbound_call(db, hook, voice.call_sid, hint)
    if call is None or call.project_id != hook.account.project_id:
        log.warning("voice webhook for an outbound call this gateway did not place", extra={"hint": hint})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    reply = await stored_reply(db, call, VOICE)
    if reply is not None:
        return reply
    call.carrier_call_id = call.carrier_call_id or voice.call_sid
    await note_answered(db, call, voice)
    exchange = Exchange(db, call, load(call), is_new=False)
    webhook = exchange.event("twilio.voice", {"call_status": voice.call_status, "direction": voice.direction})
    responder = Responder(runtime, hook, exchange, VOICE)
    twiml = await _answer_outbound(responder, call)
    return await _finish(exchange, responder, VOICE, twiml, webhook)


async def _answer_outbound(responder: Responder, call: Call) -> str:
    if call.flow_id:
        answer = await responder.start_flow(call.flow_id)
        if isinstance(answer, str):
            return answer
        call.end_reason = f"flow {call.flow_id} is not loaded"
    else:
        agent = next((a for a in responder.account.agents.values() if a.id == call.agent_id), None)
        if agent is not None:
            config = call.meta.get("agent_config", agent.config)
            dial = await responder.bridge(agent, config)
            if dial is not None:
                responder.kind = "bridge"
                return render_twiml([dial], action_url=responder.action_url())
        call.end_reason = "agent unavailable"
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
        case RecordResult(duration=duration):
            return {"input": "recording", "duration": duration, "recording_sid": params.get("RecordingSid")}
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


async def answer_action(db: AsyncSession, runtime: TwilioRuntime, hook: SignedWebhook, turn: int) -> str:
    voice = parse_form(VoiceRequest, hook.params)
    call = await find_call(db, "twilio", voice.call_sid, lock=True)
    if call is None or call.project_id != hook.account.project_id:
        log.warning("action webhook for an unknown call", extra={"turn": turn})
        return answers.goodbye(answers.UNAVAILABLE_MESSAGE)
    key = str(turn)
    reply = await stored_reply(db, call, key)
    if reply is not None:
        return reply
    conversation = load(call)
    if turn != conversation.turn:
        return conversation.latest_reply() or answers.hangup()
    await note_answered(db, call, voice)
    exchange = Exchange(db, call, conversation, is_new=False)
    event = twilio_event(hook.params)
    sensitive = input_is_sensitive(conversation.ivr, runtime.flows)
    webhook = exchange.event("twilio.input", {"turn": turn, **describe_input(event, hook.params, sensitive)})
    if isinstance(event, RecordResult) and hook.first("RecordingSid"):
        await _recorded(db, hook, call, event)
    conversation.turn = turn + 1
    responder = Responder(runtime, hook, exchange, key)
    if conversation.ivr is not None and not conversation.ivr.ended:
        twiml = await responder.continue_flow(event)
    else:
        twiml = await responder.after_dial(event)
    return await _finish(exchange, responder, key, twiml, webhook)


async def _recorded(db: AsyncSession, hook: SignedWebhook, call: Call, event: RecordResult) -> None:
    await upsert_recording(
        db,
        project_id=call.project_id,
        call=call,
        recording_sid=hook.params["RecordingSid"],
        status="completed",
        url=event.url,
        duration=round(event.duration),
        meta={"source": "RecordVerb", "flow": call.flow_id},
    )


async def answer_resume(db: AsyncSession, hook: SignedWebhook) -> str:
    """After call control played DTMF into the call: carry on with the latest answer."""
    voice = parse_form(VoiceRequest, hook.params)
    call = await find_call(db, "twilio", voice.call_sid)
    if call is None or call.project_id != hook.account.project_id:
        return answers.hangup()
    return load(call).latest_reply() or answers.hangup()
