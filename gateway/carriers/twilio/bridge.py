"""Bridging a Twilio call to a voice agent in LiveKit: room and agent dispatch first, then `<Dial><Sip>`.

The room is named after the call record (`call_...`) and created with the agent dispatch in one CreateRoom, so a
retried webhook finds the room and dispatches nothing twice. Twilio then dials `sip:<room>@<LiveKit SIP host>`
with the digest credentials of the project's bridge trunk (`gateway.livekit.bridging`, kept in LiveKit by the
reconciler): its callee rule puts the leg in the room named by the user part, the agent's room, and the trunk
maps the X- headers to attributes that tie the leg to the call record (one call, one record). LiveKit gets
`BRIDGE_TIMEOUT` seconds: a caller whose agent cannot be reached hears the route's fallback within two seconds,
not a long silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from gateway.carriers.twilio.directory import LiveKitCredentials
from gateway.ivr import DialSip
from gateway.livekit import AgentSpec, LiveKit, LiveKitError, LiveKitUnavailable
from gateway.livekit.bridging import AGENT_HEADER, CALL_ID_HEADER, ROOM_HEADER, BridgeCredentials

log = logging.getLogger("trunkline.twilio.bridge")

BRIDGE_TIMEOUT = 1.2
"""Seconds LiveKit has to create the room and dispatch; the caller's fallback must start within 2 s."""
ROOM_EMPTY_TIMEOUT = 120
ROOM_DEPARTURE_TIMEOUT = 20
__all__ = ["AGENT_HEADER", "CALL_ID_HEADER", "ROOM_HEADER"]


class BridgeFailed(Exception):
    """LiveKit could not take the call (down, slow, refused); `reason` is log-safe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BridgeRequest:
    call_id: str
    call_sid: str
    agent: str
    config: dict[str, Any]
    number: str
    """The project's Twilio number on this call."""
    caller: str
    called: str
    first_in_room: bool
    """No agent was dispatched into this call's room yet (CreateRoom carries the dispatch)."""
    direction: str = "inbound"
    timeout: int = 30

    @property
    def room(self) -> str:
        return self.call_id

    def metadata(self) -> str:
        """The agent job's metadata: its deep-merged configuration and the call it serves."""
        return json.dumps(
            {
                "call_id": self.call_id,
                "carrier": "twilio",
                "carrier_call_id": self.call_sid,
                "agent": self.agent,
                "config": self.config,
                "direction": self.direction,
                "caller": self.caller,
                "called": self.called,
            }
        )


class LiveKitPool:
    """One LiveKit facade per set of project credentials, opened on first use and closed at shutdown."""

    def __init__(self, *, timeout: float = BRIDGE_TIMEOUT + 1.0) -> None:
        self.timeout = timeout
        self._clients: dict[LiveKitCredentials, LiveKit] = {}
        self._lock = asyncio.Lock()

    async def get(self, credentials: LiveKitCredentials) -> LiveKit:
        client = self._clients.get(credentials)
        if client is not None:
            return client
        async with self._lock:
            client = self._clients.get(credentials)
            if client is None:
                client = LiveKit(
                    credentials.url, credentials.api_key, credentials.api_secret, timeout=self.timeout
                )
                await client.__aenter__()
                self._clients[credentials] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


async def open_bridge(livekit: LiveKit, request: BridgeRequest, *, within: float = BRIDGE_TIMEOUT) -> None:
    """Make sure the call's room exists with the agent dispatched; `BridgeFailed` within `within` seconds otherwise."""
    metadata = request.metadata()
    spec = AgentSpec(agent_name=request.agent, metadata=metadata)

    async def setup() -> None:
        if request.first_in_room:
            await livekit.ensure_room(
                request.room,
                metadata=json.dumps({"call_id": request.call_id, "carrier": "twilio"}),
                empty_timeout=ROOM_EMPTY_TIMEOUT,
                departure_timeout=ROOM_DEPARTURE_TIMEOUT,
                agents=[spec],
            )
        else:
            await livekit.dispatch_agent(request.room, request.agent, metadata)

    try:
        await asyncio.wait_for(setup(), within)
    except TimeoutError:
        raise BridgeFailed(f"LiveKit did not answer within {within:g} s") from None
    except LiveKitUnavailable as error:
        raise BridgeFailed(f"LiveKit unavailable: {error.detail}") from None
    except LiveKitError as error:
        raise BridgeFailed(f"LiveKit refused: {error.code}") from None


def sip_uri(livekit_sip_uri: str, user: str) -> str:
    """LiveKit SIP's URI with `user` as user part (`sip:call_...@x.sip.livekit.cloud`); any user part or
    parameters the setting carries are replaced by it."""
    scheme, _, rest = livekit_sip_uri.partition(":")
    if not rest or scheme.lower() not in ("sip", "sips"):
        scheme, rest = "sip", livekit_sip_uri
    host = rest.rpartition("@")[2]
    if not user:
        return f"{scheme}:{host}"
    return f"{scheme}:{user}@{host}"


def dial_livekit(livekit_sip_uri: str, request: BridgeRequest, credentials: BridgeCredentials) -> DialSip:
    """The `<Dial><Sip>` that carries the caller into the agent's room over the project's bridge trunk."""
    return DialSip(
        uri=sip_uri(livekit_sip_uri, request.room),
        headers={CALL_ID_HEADER: request.call_id, ROOM_HEADER: request.room, AGENT_HEADER: request.agent},
        timeout=request.timeout,
        username=credentials.username,
        password=credentials.password,
    )
