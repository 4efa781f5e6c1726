"""Live call control (transfer, hang up, DTMF), whatever the carrier: the seam each carrier implements.

Carriers register an implementation in the app's services (`Services.call_controls[carrier]`); the
/v1/calls/{id}/... endpoints pick the one for the call's carrier.
"""

from __future__ import annotations

from typing import Annotated, Protocol

import msgspec

from gateway.db.models import Call, Project


class TransferIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    """A phone number (E.164) or a SIP URI (sip:user@host)."""
    play_dialtone: bool = False


class TransferOutcome(msgspec.Struct, kw_only=True):
    ok: bool
    sip_status: int | None = None
    detail: str = ""


class DtmfIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    digits: Annotated[str, msgspec.Meta(pattern=r"^[0-9*#w]{1,64}$")]


class CallControl(Protocol):
    async def transfer(self, project: Project, call: Call, request: TransferIn) -> TransferOutcome:
        """Transfer the caller (SIP REFER or the carrier's equivalent) and report how it went."""
        ...

    async def hangup(self, project: Project, call: Call) -> None:
        """End the call now: the far end stops ringing / is disconnected."""
        ...

    async def send_dtmf(self, project: Project, call: Call, digits: str) -> None:
        """Play DTMF digits into the call."""
        ...
