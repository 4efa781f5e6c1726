"""Outbound calls and live call control through Twilio's REST API.

`TwilioPlacer` places a call recorded by `POST /v1/calls`: Twilio dials the callee and, once answered, requests
our voice URL, which finds the record again (`?call=` and the CallSid) and runs the requested flow or bridges the
requested agent. Every call progress event comes back to the status callback URL.

`TwilioCallControl` acts on a live call by updating it: hang up (Status=completed), transfer (new TwiML with a
`<Dial>`), DTMF (`<Play digits>`, then back to what the call was doing).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from twilio.base import values

from gateway.calls.control import TransferIn, TransferOutcome
from gateway.calls.outbound import OutboundCallIn, PlaceContext, PlacedCall
from gateway.carriers.twilio import answers
from gateway.carriers.twilio.rest import Credentials
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.db.models import Call, Project
from gateway.errors import Conflict, InvalidInput

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


def credentials_of(project: Project) -> Credentials:
    if not project.twilio_account_sid or not project.twilio_auth_token:
        raise InvalidInput(
            "This project has no Twilio credentials: set twilio_account_sid and twilio_auth_token on it "
            "(PATCH /v1/projects/{id}), or TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN for the default project.",
            field="carrier",
        )
    return Credentials(project.twilio_account_sid, project.twilio_auth_token)


class TwilioPlacer:
    def __init__(self, runtime: TwilioRuntime) -> None:
        self.runtime = runtime

    async def check(self, db: AsyncSession, project: Project, request: OutboundCallIn) -> None:
        credentials_of(project)

    async def place(self, ctx: PlaceContext) -> PlacedCall:
        credentials = credentials_of(ctx.project)
        base = self.runtime.public_base()
        call = ctx.edit.call
        request = ctx.request
        sid = await self.runtime.rest.create_call(
            credentials,
            to=ctx.to_e164,
            from_=ctx.from_e164,
            url=f"{base}/carriers/twilio/voice?call={call.id}",
            method="POST",
            status_callback=f"{base}/carriers/twilio/status?call={call.id}",
            status_callback_method="POST",
            status_callback_event=STATUS_EVENTS,
            timeout=request.ringing_timeout,
            time_limit=request.max_duration,
            send_digits=request.dtmf or values.unset,
        )
        return PlacedCall(carrier_call_id=sid)


class TwilioCallControl:
    def __init__(self, runtime: TwilioRuntime) -> None:
        self.runtime = runtime

    def _live(self, call: Call) -> str:
        if not call.carrier_call_id:
            raise Conflict(f"Call {call.id} has no Twilio CallSid yet; retry once Twilio has accepted it.")
        return call.carrier_call_id

    async def hangup(self, project: Project, call: Call) -> None:
        await self.runtime.rest.update_call(credentials_of(project), self._live(call), status="completed")

    async def transfer(self, project: Project, call: Call, request: TransferIn) -> TransferOutcome:
        await self.runtime.rest.update_call(
            credentials_of(project), self._live(call), twiml=answers.transfer(request.to)
        )
        return TransferOutcome(ok=True, detail="Twilio is dialling the new destination")

    async def send_dtmf(self, project: Project, call: Call, digits: str) -> None:
        resume = f"{self.runtime.public_base()}/carriers/twilio/resume"
        await self.runtime.rest.update_call(
            credentials_of(project), self._live(call), twiml=answers.play_digits(digits, resume_url=resume)
        )
