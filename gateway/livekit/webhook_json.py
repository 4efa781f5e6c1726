"""LiveKit webhook bodies decoded straight from JSON into `LiveKitEvent`s, without building protobuf messages.

LiveKit's notifier marshals `livekit.WebhookEvent` with Go's protojson defaults: lowerCamelCase names, 64-bit
integers as strings, enums by name, default values left out. protobuf's parser (what livekit-api's
`WebhookReceiver` runs) also takes the proto field names, numbers for integers and enums, and `null` for "not
set"; so does this decoder, and for the fields the gateway reads it gives what `parse_event(json_format.Parse(body))`
gives (tests/unit/livekit/test_webhook_json.py checks that on generated events). It does not check fields the
gateway never reads (tracks, room timestamps...), which protobuf's parser would; bodies reach it only after their
signature and digest were verified. The pure-Python protobuf parser was the largest single cost of a webhook.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from .webhooks import (
    DISCONNECT_REASONS,
    EGRESS_STATUSES,
    KINDS,
    STATES,
    Egress,
    EnumNames,
    LiveKitEvent,
    Participant,
    Room,
    participant_kind,
    sip_details,
)

_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_SIP = KINDS.number_of["SIP"]


class MalformedEvent(ValueError):
    """A body that is not a LiveKit `WebhookEvent` in protobuf JSON; says which field and why."""


@functools.cache
def _proto_name(json_name: str) -> str:
    """The proto field name behind a JSON name (`numParticipants` -> `num_participants`)."""
    return re.sub(r"[A-Z]", lambda upper: "_" + upper.group().lower(), json_name)


def _field(obj: dict[str, Any], json_name: str) -> Any:
    """The value under either name (the later one when both are given, as protobuf's parser does); None: unset."""
    value = obj.get(json_name)
    proto_name = _proto_name(json_name)
    if proto_name != json_name and proto_name in obj:
        keys = list(obj)
        if value is None or keys.index(proto_name) > keys.index(json_name):
            value = obj[proto_name]
    return value


def _object(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedEvent(f"{path} must be a JSON object")
    return value


def _string(obj: dict[str, Any], json_name: str, path: str) -> str:
    value = _field(obj, json_name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEvent(f"{path}.{json_name} must be a string")
    return value


def _integer(value: Any, bounds: tuple[int, int], path: str) -> int:
    """protobuf JSON integers: a number or a decimal string (exponents allowed), integral and in range."""
    if isinstance(value, bool):
        raise MalformedEvent(f"{path} must be an integer, not a boolean")
    if isinstance(value, str):
        if " " in value:
            raise MalformedEvent(f"{path} must be an integer without spaces")
        try:
            value = int(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                raise MalformedEvent(f"{path} must be an integer") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise MalformedEvent(f"{path} must be an integer")
        value = int(value)
    if not isinstance(value, int):
        raise MalformedEvent(f"{path} must be an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise MalformedEvent(f"{path} is out of range")
    return value


def _int(obj: dict[str, Any], json_name: str, path: str, bounds: tuple[int, int]) -> int:
    value = _field(obj, json_name)
    return 0 if value is None else _integer(value, bounds, f"{path}.{json_name}")


def _enum(obj: dict[str, Any], json_name: str, path: str, enum: EnumNames) -> int:
    """An enum by name or number; an unknown name leaves the default (protobuf's `ignore_unknown_fields`)."""
    value = _field(obj, json_name)
    if value is None:
        return 0
    if isinstance(value, str):
        return enum.number_of.get(value, 0)
    return _integer(value, _INT32, f"{path}.{json_name}")


def _attributes(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{path}.attributes must be a JSON object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise MalformedEvent(f"{path}.attributes[{key!r}] must be a string")
    return value


def _room(obj: dict[str, Any]) -> Room:
    return Room(
        sid=_string(obj, "sid", "room"),
        name=_string(obj, "name", "room"),
        metadata=_string(obj, "metadata", "room"),
        num_participants=_int(obj, "numParticipants", "room", _UINT32),
    )


def _participant(obj: dict[str, Any]) -> Participant:
    path = "participant"
    kind = _enum(obj, "kind", path, KINDS)
    attributes = _attributes(_field(obj, "attributes"), path)
    reason = _enum(obj, "disconnectReason", path, DISCONNECT_REASONS)
    return Participant(
        sid=_string(obj, "sid", path),
        identity=_string(obj, "identity", path),
        name=_string(obj, "name", path),
        kind=participant_kind(kind),
        state=STATES.name(_enum(obj, "state", path, STATES)),
        metadata=_string(obj, "metadata", path),
        attributes=attributes,
        joined_at=_int(obj, "joinedAt", path, _INT64),
        disconnect_reason=DISCONNECT_REASONS.name(reason),
        sip=sip_details(attributes) if kind == _SIP else None,
    )


def _files(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedEvent("egressInfo.fileResults must be a JSON array")
    names = []
    for index, item in enumerate(value):
        path = f"egressInfo.fileResults[{index}]"
        result = _object(item, path)
        if result is None:
            raise MalformedEvent(f"{path} must not be null")
        names.append(_string(result, "filename", path))
    return tuple(names)


def _egress(obj: dict[str, Any]) -> Egress:
    path = "egressInfo"
    return Egress(
        egress_id=_string(obj, "egressId", path),
        room_name=_string(obj, "roomName", path),
        status=EGRESS_STATUSES.name(_enum(obj, "status", path, EGRESS_STATUSES)),
        files=_files(_field(obj, "fileResults")),
        error=_string(obj, "error", path),
    )


def decode_event(body: bytes | str) -> LiveKitEvent:
    """The typed event in a webhook body; `MalformedEvent` (saying what is wrong) if it is not one."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedEvent(f"the body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedEvent("the body must be a JSON object")
    room = _object(_field(raw, "room"), "room")
    participant = _object(_field(raw, "participant"), "participant")
    egress = _object(_field(raw, "egressInfo"), "egressInfo")
    return LiveKitEvent(
        id=_string(raw, "id", "event"),
        event=_string(raw, "event", "event"),
        created_at=_int(raw, "createdAt", "event", _INT64),
        room=_room(room) if room is not None else None,
        participant=_participant(participant) if participant is not None else None,
        egress=_egress(egress) if egress is not None else None,
    )
