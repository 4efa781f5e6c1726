"""The `GET /v1/calls` query: keyset pages (by id) that cost the same at a thousand calls and at a million.

Every documented filter reads its page off its own (project, filter, id) index in id order (migration 0005):
none, `status`, `direction`; `number` (caller or callee) takes the first page of each side from its index and
merges them. `since`/`until` also bound the id: call ids are ULIDs minted when the call is recorded, so a call's
id time and its `created_at` are moments apart (`ID_SKEW` allows far more), and the time range becomes an id
range on the same index instead of a scan of every older call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, select, union_all

from gateway.db.models import Call
from gateway.ids import ulid

ID_SKEW = timedelta(minutes=10)
"""How far apart a call's id time and its `created_at` may be for `since`/`until` to still find it."""
CALL_PREFIX = "call"


def id_at(moment: datetime) -> str:
    """The smallest call id minted at `moment` (naive times are UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{CALL_PREFIX}_{ulid(max(int(aware.timestamp() * 1000), 0), 0)}"


def calls_query(
    project_id: str,
    *,
    status: str | None = None,
    direction: str | None = None,
    number: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Select[Any]:
    """Calls of the project matching the filters, after the id `after`; `crud.page` adds the order and the limit.

    The id gets one lower bound (the later of `after` and `since`'s), so an index range starts where the page
    does: two lower bounds on one column make SQLite range over one and filter on the other."""
    conditions: list[ColumnElement[bool]] = [Call.project_id == project_id]
    if status:
        conditions.append(Call.status == status)
    if direction:
        conditions.append(Call.direction == direction)
    first = id_at(since - ID_SKEW) if since else None
    if since:
        conditions.append(Call.created_at >= since)
    if after and (first is None or after >= first):
        conditions.append(Call.id > after)
    elif first is not None:
        conditions.append(Call.id >= first)
    if until:
        conditions += [Call.created_at < until, Call.id < id_at(until + ID_SKEW)]
    if not number:
        return select(Call).where(*conditions)
    sides = [
        select(Call.id).where(*conditions, column == number).order_by(Call.id).limit(limit + 1).subquery()
        for column in (Call.from_e164, Call.to_e164)
    ]
    first_ids = union_all(*(select(side.c.id) for side in sides)).subquery()
    return select(Call).where(Call.id.in_(select(first_ids.c.id)))
