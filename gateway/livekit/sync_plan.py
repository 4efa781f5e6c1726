"""The diff between what Trunkline wants in LiveKit and what LiveKit holds: a list of operations. Pure.

Each wanted object is matched to LiveKit's copy by the LiveKit id we stored, else by its Trunkline mark (which
also adopts an object created by a run that crashed before it could store the id). Extra copies with the same
mark are deleted, as are marked objects nothing wants any more. Unmarked objects are never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from .desired import Actual, Desired, Info, Kind, Mark, same

Action = Literal["create", "update", "delete", "adopt"]


@dataclass(frozen=True)
class Op:
    """One change to make in LiveKit (`adopt` only records the id of an object LiveKit already has)."""

    action: Action
    kind: Kind
    key: str | None
    livekit_id: str | None
    reason: str
    drift: bool
    """True when LiveKit's copy changed (or vanished) behind Trunkline's back; False for pending changes."""
    info: Info | None = None


class OpView(msgspec.Struct, frozen=True, kw_only=True):
    """An operation as the API shows it."""

    action: Action
    kind: Kind
    object_id: str | None
    livekit_id: str | None
    reason: str
    drift: bool


def view(op: Op) -> OpView:
    return OpView(
        action=op.action,
        kind=op.kind,
        object_id=op.key,
        livekit_id=op.livekit_id,
        reason=op.reason,
        drift=op.drift,
    )


def digest(info: Info) -> str:
    """A stable fingerprint of a wanted object, stored after a sync to tell drift from pending changes."""
    return hashlib.sha256(info.SerializeToString(deterministic=True)).hexdigest()[:32]


@dataclass(frozen=True)
class Wanted:
    desired: Desired
    synced_digest: str | None = None
    """The digest of what the last successful sync sent for this object."""


def plan(
    project_id: str,
    wanted: Sequence[Wanted],
    current: Sequence[Actual],
    *,
    keep: Collection[str] = (),
) -> list[Op]:
    """Operations that make `current` hold `wanted`; marked objects whose key is in `keep` are left alone."""
    by_id = {a.livekit_id: a for a in current}
    mine: dict[str, list[Actual]] = {}
    for copy in sorted(current, key=lambda a: a.livekit_id):
        if copy.mark is not None and copy.mark.project_id == project_id:
            mine.setdefault(copy.mark.object_id, []).append(copy)
    ops: list[Op] = []
    handled: set[str] = set()
    for item in wanted:
        ops.extend(_plan_one(project_id, item, by_id, mine.get(item.desired.key, []), handled))
    for key, copies in mine.items():
        if key in keep:
            continue
        for copy in copies:
            if copy.livekit_id not in handled:
                ops.append(
                    Op("delete", copy.kind, key, copy.livekit_id, "no longer wanted by Trunkline", False)
                )
    return ops


def _plan_one(
    project_id: str,
    item: Wanted,
    by_id: dict[str, Actual],
    marked: list[Actual],
    handled: set[str],
) -> list[Op]:
    want = item.desired
    known = by_id.get(want.known_id) if want.known_id else None
    if known is not None and (
        known.kind != want.kind or known.mark not in (None, Mark(project_id, want.key))
    ):
        known = None
    candidates = [a for a in marked if a.kind == want.kind]
    keep = known or (candidates[0] if candidates else None)
    extra = [c for c in candidates if keep is None or c.livekit_id != keep.livekit_id]
    handled.update(c.livekit_id for c in extra)
    ops = [Op("delete", c.kind, want.key, c.livekit_id, "duplicate copy in LiveKit", True) for c in extra]
    if keep is None:
        if want.known_id:
            return [*ops, Op("create", want.kind, want.key, None, "deleted in LiveKit", True, want.info)]
        return [*ops, Op("create", want.kind, want.key, None, "not yet in LiveKit", False, want.info)]
    handled.add(keep.livekit_id)
    if keep.livekit_id != want.known_id:
        ops.append(
            Op(
                "adopt",
                want.kind,
                want.key,
                keep.livekit_id,
                "found in LiveKit by its mark",
                False,
                want.info,
            )
        )
    if not same(want.info, keep.info):
        drifted = item.synced_digest is not None and item.synced_digest == digest(want.info)
        reason = "changed in LiveKit outside Trunkline" if drifted else "changed in Trunkline"
        ops.append(Op("update", want.kind, want.key, keep.livekit_id, reason, drifted, want.info))
    return ops
