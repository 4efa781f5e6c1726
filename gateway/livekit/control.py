"""`LiveKitCallControl`: transfer (SIP REFER), hang up and DTMF on a call whose SIP leg is in a LiveKit room."""

from __future__ import annotations

from gateway.calls.control import TransferIn, TransferOutcome
from gateway.db.models import Call, Project
from gateway.errors import Conflict

from .clients import LiveKitClients
from .errors import LiveKitError
from .facade import LiveKit


def transfer_uri(to: str) -> str:
    """LiveKit wants a URI: `tel:+1...` for a number (given in E.164), a SIP URI as it is."""
    return to if to.startswith(("sip:", "sips:", "tel:")) else f"tel:{to}"


class LiveKitCallControl:
    def __init__(self, clients: LiveKitClients) -> None:
        self._clients = clients

    async def _leg(self, project: Project, call: Call) -> tuple[LiveKit, str, str]:
        identity = call.meta.get("livekit_identity") if isinstance(call.meta, dict) else None
        if not call.livekit_room or not isinstance(identity, str) or not identity:
            raise Conflict(
                f"Call {call.id} has no SIP participant in a LiveKit room yet; retry once it is ringing."
            )
        return await self._clients.get(project), call.livekit_room, identity

    async def transfer(self, project: Project, call: Call, request: TransferIn) -> TransferOutcome:
        livekit, room, identity = await self._leg(project, call)
        try:
            result = await livekit.transfer(
                room, identity, transfer_uri(request.to), play_dialtone=request.play_dialtone
            )
        except LiveKitError as error:
            if error.sip_status_code is None:
                raise
            detail = f"transfer failed: SIP {error.sip_status_code} {error.sip_status or ''}".strip()
            return TransferOutcome(ok=False, sip_status=error.sip_status_code, detail=detail)
        return TransferOutcome(
            ok=result.status != "failed",
            sip_status=result.sip_status_code,
            detail=f"transfer {result.status} ({result.reason})",
        )

    async def hangup(self, project: Project, call: Call) -> None:
        livekit, room, identity = await self._leg(project, call)
        await livekit.remove_participant(room, identity)
        await livekit.delete_room(room)

    async def send_dtmf(self, project: Project, call: Call, digits: str) -> None:
        livekit, room, _ = await self._leg(project, call)
        await livekit.send_dtmf(room, digits)
