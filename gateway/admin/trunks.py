"""SIP trunks: inbound (numbers, allowed sources, caller allow-list, digest auth, header mapping, media
encryption) and outbound (address, transport, auth, destination country, caller numbers). Passwords are
write-only."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped, to_builtins
from gateway.auth.principal import Principal
from gateway.calls.phone import all_e164
from gateway.db.models import Project, Trunk
from gateway.errors import InvalidInput
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Region = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
Password = Annotated[
    str,
    msgspec.Meta(
        max_length=256,
        pattern=r"^[\x20-\x7e]*$",
        description="printable ASCII, at most 256 characters (stored encrypted); empty clears it",
    ),
]
Encryption = Literal["disable", "allow", "require"]
HeaderMap = dict[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,64}$")], str]
Host = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", description="host[:port]")]


class InboundTrunkIn(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, tag="inbound", tag_field="direction"
):
    name: Name
    numbers: list[str] = []
    """Numbers this trunk receives calls for (normalised to E.164)."""
    allowed_addresses: list[str] = []
    """Source IPs or CIDRs allowed to send calls; empty means any."""
    allowed_numbers: list[str] = []
    """Caller numbers allowed to call; empty means any."""
    auth_username: str = ""
    auth_password: Password | None = None
    headers: dict[str, str] = {}
    headers_to_attributes: HeaderMap = {}
    media_encryption: Encryption = "allow"
    krisp_enabled: bool = False
    default_region: Region | None = None
    """Region for national-format numbers on this trunk; the project's when unset."""


class OutboundTrunkIn(
    msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, tag="outbound", tag_field="direction"
):
    name: Name
    address: Host
    transport: Literal["auto", "udp", "tcp", "tls"] = "auto"
    numbers: list[str] = []
    """Caller numbers this trunk may present (E.164)."""
    destination_country: Region | None = None
    auth_username: str = ""
    auth_password: Password | None = None
    headers: dict[str, str] = {}
    headers_to_attributes: HeaderMap = {}
    media_encryption: Encryption = "allow"
    default_region: Region | None = None


TrunkIn = InboundTrunkIn | OutboundTrunkIn


class TrunkOut(msgspec.Struct):
    id: str
    direction: str
    name: str
    config: dict[str, Any]
    auth_password_set: bool
    livekit_trunk_id: str | None
    created_at: datetime
    updated_at: datetime


def render(t: Trunk) -> TrunkOut:
    return TrunkOut(
        id=t.id,
        direction=t.direction,
        name=t.name,
        config=t.config,
        auth_password_set=bool(t.auth_password),
        livekit_trunk_id=t.livekit_trunk_id,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def _check_cidrs(values: list[str]) -> list[str]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise InvalidInput(
                f"allowed_addresses[{i}]: {value!r} is not an IP address or CIDR; use e.g. "
                f"203.0.113.0/24 or 198.51.100.7.",
                field=f"allowed_addresses[{i}]",
            ) from None
    return out


def normalised(data: TrunkIn, project_region: str) -> dict[str, Any]:
    """The stored config: numbers in E.164, CIDRs canonical, no password."""
    region = data.default_region or project_region
    config: dict[str, Any] = to_builtins(data)
    config.pop("auth_password", None)
    config.pop("name", None)
    config.pop("direction", None)
    config["numbers"] = all_e164(data.numbers, region, "numbers")
    if isinstance(data, InboundTrunkIn):
        config["allowed_numbers"] = all_e164(data.allowed_numbers, region, "allowed_numbers")
        config["allowed_addresses"] = _check_cidrs(data.allowed_addresses)
    return config


async def _project_region(db: AsyncSession, principal: Principal) -> str:
    project = await db.get(Project, principal.project_id)
    return project.default_region if project else "US"


class TrunkController(Controller):
    path = "/trunks"
    tags = ["trunks"]

    @get(operation_id="listTrunks", summary="List SIP trunks")
    async def list_trunks(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        direction: FromQuery[Literal["inbound", "outbound"] | None] = None,
    ) -> Page[TrunkOut]:
        stmt = select(Trunk).where(Trunk.project_id == principal.project_id)
        if direction:
            stmt = stmt.where(Trunk.direction == direction)
        return await page(db, stmt, Trunk, limit, after, render)

    @post(operation_id="createTrunk", summary="Create a SIP trunk")
    async def create_trunk(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            TrunkIn,
            json_example(
                "An inbound trunk",
                {
                    "direction": "inbound",
                    "name": "twilio-in",
                    "numbers": ["+14155550100"],
                    "allowed_addresses": ["54.172.60.0/30"],
                    "media_encryption": "allow",
                },
            ),
        ],
    ) -> TrunkOut:
        config = normalised(data, await _project_region(db, principal))
        direction = "inbound" if isinstance(data, InboundTrunkIn) else "outbound"
        trunk = Trunk(
            id=new_id("trk"),
            project_id=principal.project_id,
            name=data.name,
            direction=direction,
            config=config,
            auth_password=data.auth_password,
        )
        db.add(trunk)
        await commit_audited(
            db,
            principal,
            action="trunk.create",
            object_type="trunk",
            object_id=trunk.id,
            before=None,
            after={"name": data.name, "direction": direction, **config},
        )
        return render(trunk)

    @get("/{trunk_id:str}", operation_id="getTrunk", summary="Get a SIP trunk")
    async def get_trunk(self, db: Db, principal: Caller, trunk_id: FromPath[str]) -> TrunkOut:
        return render(await scoped(db, Trunk, trunk_id, principal))

    @patch("/{trunk_id:str}", operation_id="updateTrunk", summary="Change a SIP trunk (JSON merge-patch)")
    async def update_trunk(
        self,
        db: Db,
        principal: Caller,
        trunk_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("Require encryption", {"media_encryption": "require"})],
    ) -> TrunkOut:
        trunk = await scoped(db, Trunk, trunk_id, principal)
        if data.get("direction", trunk.direction) != trunk.direction:
            raise InvalidInput("A trunk's direction cannot change; create a new trunk.", field="direction")
        before = {"name": trunk.name, "direction": trunk.direction, **trunk.config}
        change: TrunkIn = merge_patch(before, data, TrunkIn)
        trunk.name, trunk.config = change.name, normalised(change, await _project_region(db, principal))
        if change.auth_password is not None:
            trunk.auth_password = change.auth_password or None
        await commit_audited(
            db,
            principal,
            action="trunk.update",
            object_type="trunk",
            object_id=trunk.id,
            before=before,
            after={"name": trunk.name, "direction": trunk.direction, **trunk.config},
        )
        return render(trunk)

    @delete("/{trunk_id:str}", operation_id="deleteTrunk", summary="Delete a SIP trunk")
    async def delete_trunk(self, db: Db, principal: Caller, trunk_id: FromPath[str]) -> None:
        trunk = await scoped(db, Trunk, trunk_id, principal)
        before = {"name": trunk.name, "direction": trunk.direction, **trunk.config}
        await db.delete(trunk)
        await commit_audited(
            db,
            principal,
            action="trunk.delete",
            object_type="trunk",
            object_id=trunk_id,
            before=before,
            after=None,
        )
