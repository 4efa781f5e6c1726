"""SIP calls: outbound dialing (`CreateSIPParticipant`), transfers (`TransferSIPParticipant`), inbound calls.

Outbound, as LiveKit SIP does it: the SIP participant joins the room at once (`sip.callStatus` "dialing",
then "ringing"), the far end answers ("active") or refuses it (the participant leaves). With
`wait_until_answered` the request returns only after the answer, or fails with the SIP status; without it, it
returns immediately and a refusal only shows as the participant leaving.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Literal

import msgspec
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from . import errors, ids
from .faults import DialOutcome, FaultBook
from .sip_admin import TRUNK_NOT_FOUND, check_hostname
from .twirp import CallContext, Handler
from .world import Departure, World

Reason = proto_models.DisconnectReason
CALL_STATUS = "sip.callStatus"


class SipCall(msgspec.Struct):
    """A SIP call the stand-in carried, for tests to inspect."""

    call_id: str
    direction: Literal["inbound", "outbound"]
    room: str
    identity: str
    to_number: str
    from_number: str
    trunk_id: str
    status: str = "dialing"
    sip_status: int = 0
    dtmf_sent: str = ""
    transferred_to: str = ""


def disconnect_reason_for(sip_status: int) -> int:
    """How LiveKit SIP records a refused INVITE on the participant that leaves."""
    if sip_status in (401, 403, 407, 486, 488) or 600 <= sip_status < 700:
        return Reason.USER_REJECTED
    if 400 <= sip_status < 500:
        return Reason.USER_UNAVAILABLE
    return Reason.SIP_TRUNK_FAILURE


def _invalid(message: str) -> errors.TwirpFailure:
    return errors.twirp_error("invalid_argument", message)


def _check_create(request: proto_sip.CreateSIPParticipantRequest) -> None:
    if not request.sip_trunk_id and not request.HasField("trunk") and not request.sip_number:
        raise _invalid("missing sip trunk id and sip number")
    if request.HasField("trunk"):
        if not request.trunk.hostname:
            raise _invalid("no outbound hostname specified")
        check_hostname(request.trunk.hostname, "trunk hostname")
        check_hostname(request.trunk.from_host, "from_host")
    if not request.sip_call_to:
        raise _invalid("missing sip callee number")
    if "@" in request.sip_call_to:
        raise _invalid("SipCallTo should be a phone number or SIP user, not a full SIP URI")
    if not request.room_name:
        raise _invalid("missing room name")


def _check_transfer_target(target: str) -> None:
    if not target:
        raise _invalid("missing transfer to")
    inner = target[1:-1] if target.startswith("<") and target.endswith(">") else target
    if not inner.startswith(("sip:", "sips:", "tel:")):
        raise _invalid("transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)")


class SipCallHandlers:
    """`CreateSIPParticipant` and `TransferSIPParticipant`, and the registry of calls carried."""

    def __init__(self, world: World, faults: FaultBook) -> None:
        self._world = world
        self._faults = faults
        self._lock = threading.Lock()
        self._calls: dict[str, SipCall] = {}
        world.leave_listeners.append(self._on_leave)

    def table(self) -> dict[str, Handler]:
        return {
            "livekit.SIP/CreateSIPParticipant": self.create_sip_participant,
            "livekit.SIP/TransferSIPParticipant": self.transfer_sip_participant,
        }

    @property
    def calls(self) -> list[SipCall]:
        with self._lock:
            return [msgspec.structs.replace(c) for c in self._calls.values()]

    def record(self, call: SipCall) -> None:
        with self._lock:
            self._calls[call.call_id] = call

    def _on_leave(self, departure: Departure) -> None:
        call_id = departure.participant.attributes.get("sip.callID", "")
        with self._lock:
            call = self._calls.get(call_id)
            if call is not None and call.status in ("dialing", "ringing"):
                call.status = "cancelled"
            elif call is not None and call.status == "active":
                call.status = "ended"

    def update(self, call_id: str, **changes: object) -> None:
        with self._lock:
            call = self._calls.get(call_id)
            if call is not None:
                for name, value in changes.items():
                    setattr(call, name, value)

    async def create_sip_participant(
        self, request: proto_sip.CreateSIPParticipantRequest, call: CallContext
    ) -> proto_sip.SIPParticipantInfo:
        call.grants.ensure_sip_call()
        _check_create(request)
        with self._world.lock:
            trunk = None
            if request.sip_trunk_id:
                trunk = self._world.outbound_trunks.get(request.sip_trunk_id)
                if trunk is None:
                    raise errors.twirp_error("not_found", TRUNK_NOT_FOUND)
            number = request.sip_number
            if not number:
                if trunk is None or not trunk.numbers:
                    raise errors.psrpc_error("failed_precondition", "no numbers on outbound trunk")
                number = random.choice(list(trunk.numbers))
            call_id = ids.new_id(ids.SIP_CALL)
            identity = request.participant_identity or "sip_" + request.sip_call_to
            attributes = dict(request.participant_attributes)
            attributes.update(
                {"sip.callID": call_id, "sip.trunkID": request.sip_trunk_id, CALL_STATUS: "dialing"}
            )
            if not request.hide_phone_number:
                hostname = trunk.address if trunk else request.trunk.hostname
                attributes.update(
                    {
                        "sip.phoneNumber": request.sip_call_to,
                        "sip.hostname": hostname,
                        "sip.trunkPhoneNumber": number,
                    }
                )
            participant = self._world.join(
                request.room_name,
                proto_models.ParticipantInfo(
                    identity=identity,
                    name=request.participant_name,
                    metadata=request.participant_metadata,
                    kind=proto_models.ParticipantInfo.Kind.SIP,
                    attributes=attributes,
                ),
            )
            self.record(
                SipCall(
                    call_id,
                    "outbound",
                    request.room_name,
                    identity,
                    request.sip_call_to,
                    number,
                    request.sip_trunk_id,
                )
            )
            self._world.set_attributes(request.room_name, identity, {CALL_STATUS: "ringing"})
            self.update(call_id, status="ringing")
        outcome = self._faults.next_dial(request.sip_call_to)
        info = proto_sip.SIPParticipantInfo(
            participant_id=participant.sid,
            participant_identity=identity,
            room_name=request.room_name,
            sip_call_id=call_id,
        )
        delay = outcome.ring_seconds * self._world.time_scale
        if not request.wait_until_answered:

            def settle_later() -> None:
                self._settle(call_id, request.room_name, participant.sid, outcome, request.dtmf)

            self._world.schedule(delay, settle_later)
            return info
        await asyncio.sleep(delay)
        if not self._settle(call_id, request.room_name, participant.sid, outcome, request.dtmf):
            raise errors.sip_failure(487, "Request Terminated")
        if not outcome.answered:
            raise errors.sip_failure(outcome.sip_status, outcome.reason)
        return info

    def _settle(self, call_id: str, room: str, sid: str, outcome: DialOutcome, dtmf: str) -> bool:
        """The far end's final answer; False when the participant had already gone (call cancelled)."""
        with self._world.lock:
            record = self._world.room(room)
            members = record.participants.values() if record is not None else []
            participant = next((p for p in members if p.sid == sid), None)
            if participant is None:
                self.update(call_id, status="cancelled", sip_status=487)
                return False
            if outcome.answered:
                self._world.set_attributes(room, participant.identity, {CALL_STATUS: "active"})
                self.update(call_id, status="active", sip_status=outcome.sip_status, dtmf_sent=dtmf)
            else:
                self.update(call_id, status="failed", sip_status=outcome.sip_status)
                self._world.leave(room, participant.identity, disconnect_reason_for(outcome.sip_status))
            return True

    async def transfer_sip_participant(
        self, request: proto_sip.TransferSIPParticipantRequest, call: CallContext
    ) -> proto_sip.TransferSIPParticipantResponse:
        if not request.room_name:
            raise errors.psrpc_error("invalid_argument", "Missing room name")
        if not request.participant_identity:
            raise errors.psrpc_error("invalid_argument", "Missing participant identity")
        call.grants.ensure_sip_call()
        call.grants.ensure_admin(request.room_name)
        _check_transfer_target(request.transfer_to)
        participant = self._world.participant(request.room_name, request.participant_identity)
        if participant is None:
            raise errors.psrpc_error("not_found", "participant does not exist")
        call_id = participant.attributes.get("sip.callID")
        if not call_id:
            raise errors.psrpc_error("invalid_argument", "no SIP session associated with participant")
        outcome = self._faults.next_transfer(request.transfer_to)
        transfer_id = ids.new_id(ids.SIP_TRANSFER)
        await asyncio.sleep(outcome.seconds * self._world.time_scale)
        if not outcome.completed:
            raise errors.sip_failure(
                outcome.sip_status,
                outcome.reason,
                context="transfer failed",
                extra_meta={"sip_transfer_reason": outcome.transfer_reason, "sip_transfer_id": transfer_id},
            )
        self.update(call_id, status="transferred", transferred_to=request.transfer_to)
        self._world.leave(request.room_name, request.participant_identity, Reason.CLIENT_INITIATED)
        return proto_sip.TransferSIPParticipantResponse(
            transfer_id=transfer_id,
            status=proto_sip.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
            reason=proto_sip.SIPTransferReason.STR_COMPLETED,
            sip_status=proto_sip.SIPStatus(code=proto_sip.SIPStatusCode.SIP_STATUS_OK, status="OK"),
        )
