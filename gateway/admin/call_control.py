"""`POST /v1/calls/{id}/transfer|hangup|dtmf`: live call control for any carrier.

The endpoint checks the call (this project's, not ended), picks the carrier's call control
(`services(state).call_controls`), and records each action as a call event (through the call store) and an audit
record. Destinations pass the project's toll-fraud guard. The request's database transaction is closed before
the carrier is contacted, so no connection is held while a transfer rings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.crud import commit_audited, scoped
from gateway.auth.principal import Principal, is_tenant
from gateway.calls.control import CallControl, DtmfIn, TransferIn
from gateway.calls.guard import DestinationPolicy
from gateway.calls.lifecycle import TERMINAL_STATES, CallState, StatusUpdate
from gateway.calls.phone import to_e164
from gateway.calls.store import CallEdit, CallRef
from gateway.db.models import Call, Project
from gateway.db.types import utcnow
from gateway.errors import Conflict
from gateway.services import services
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example
from routing.numbers import mask

Action = Literal["transfer", "hangup", "dtmf"]


class ControlResult(msgspec.Struct, kw_only=True):
    call_id: str
    action: Action
    ok: bool
    status: str
    """The call's status after the action."""
    sip_status: int | None = None
    detail: str = ""


async def _controllable(
    db: AsyncSession, state: State, principal: Principal, call_id: str
) -> tuple[Call, Project, CallControl]:
    call = await scoped(db, Call, call_id, principal)
    if CallState(call.status) in TERMINAL_STATES:
        raise Conflict(
            f"Call {call.id} has already ended (status {call.status}); there is nothing to control."
        )
    control = services(state).call_controls.get(call.carrier)
    if control is None:
        raise Conflict(f"Calls on carrier {call.carrier!r} cannot be controlled on this gateway.")
    project = await db.get(Project, principal.project_id)
    assert project is not None
    await db.commit()
    return call, project, control


def _destination(project: Project, to: str) -> tuple[str, str]:
    """(what to send the carrier, what to record), through the project's toll-fraud guard: E.164 for numbers,
    SIP URIs as given (their host must be allowed, a number in their user part too)."""
    policy = DestinationPolicy.for_project(
        project.settings, project.default_region, capped=is_tenant(project)
    )
    if to.startswith(("sip:", "sips:")):
        return policy.check(to), to.split("@", 1)[-1]
    number = policy.check(to_e164(to.removeprefix("tel:"), project.default_region, "to").e164)
    return number, mask(number)


async def _record(
    db: AsyncSession,
    state: State,
    principal: Principal,
    call: Call,
    action: Action,
    details: dict[str, object],
    also: Callable[[CallEdit], None] | None = None,
) -> Call:
    """The action as a call event (through the call store), then its audit record; the call as it is now."""

    def work(edit: CallEdit) -> None:
        if also is not None:
            also(edit)
        edit.event(f"control.{action}", {**details, "by": principal.key_id}, source="api")

    store = services(state).calls
    changed = await store.change(CallRef(call_id=call.id), work)
    await commit_audited(
        db,
        principal,
        action=f"call.{action}",
        object_type="call",
        object_id=call.id,
        before=None,
        after=details,
    )
    return changed[1].call if changed is not None else call


class CallControlController(Controller):
    path = "/calls"
    tags = ["calls"]

    @post(
        "/{call_id:str}/transfer",
        status_code=200,
        operation_id="transferCall",
        summary="Transfer a live call (SIP REFER) to a number or SIP URI; answers with the transfer's result",
    )
    async def transfer(
        self,
        db: Db,
        principal: Caller,
        state: State,
        call_id: FromPath[str],
        data: Annotated[TransferIn, json_example("Transfer to a number", {"to": "+14155550188"})],
    ) -> ControlResult:
        call, project, control = await _controllable(db, state, principal, call_id)
        target, shown = _destination(project, data.to)
        outcome = await control.transfer(
            project, call, TransferIn(to=target, play_dialtone=data.play_dialtone)
        )
        details: dict[str, object] = {"to": shown, "ok": outcome.ok, "sip_status": outcome.sip_status}

        def transferred(edit: CallEdit) -> None:
            if outcome.ok:  # the reason the call leaves here, whatever the leg's own end says
                edit.call.end_reason = f"transferred to {shown}"

        details = {**details, "detail": outcome.detail}
        call = await _record(db, state, principal, call, "transfer", details, transferred)
        return ControlResult(
            call_id=call.id,
            action="transfer",
            ok=outcome.ok,
            status=call.status,
            sip_status=outcome.sip_status,
            detail=outcome.detail,
        )

    @post(
        "/{call_id:str}/hangup",
        status_code=200,
        operation_id="hangupCall",
        summary="Hang up a live call: the SIP leg is removed and the room closed (a ringing phone stops)",
    )
    async def hangup(self, db: Db, principal: Caller, state: State, call_id: FromPath[str]) -> ControlResult:
        call, project, control = await _controllable(db, state, principal, call_id)
        await control.hangup(project, call)
        end = StatusUpdate(
            state=CallState.CANCELED,
            if_answered=CallState.COMPLETED,
            at=utcnow(),
            reason="hung up through the API",
            reason_rank=3,
        )

        def hung_up(edit: CallEdit) -> None:
            edit.fold(end, source="api", data={"action": "hangup"})

        call = await _record(db, state, principal, call, "hangup", {}, hung_up)
        return ControlResult(call_id=call.id, action="hangup", ok=True, status=call.status)

    @post(
        "/{call_id:str}/dtmf",
        status_code=200,
        operation_id="sendCallDtmf",
        summary="Play DTMF digits into a live call",
    )
    async def dtmf(
        self,
        db: Db,
        principal: Caller,
        state: State,
        call_id: FromPath[str],
        data: Annotated[DtmfIn, json_example("Press 1, pause, then #", {"digits": "1w#"})],
    ) -> ControlResult:
        call, project, control = await _controllable(db, state, principal, call_id)
        await control.send_dtmf(project, call, data.digits)
        call = await _record(db, state, principal, call, "dtmf", {"digits": "#" * len(data.digits)})
        return ControlResult(call_id=call.id, action="dtmf", ok=True, status=call.status)
