"""`GET /v1/calls` at scale on both engines: keyset pages per filter match a plain filter of every call, read off the
filter's index; old calls (with their events, recordings and transcripts) go by the retention setting."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.call_list import calls_query
from gateway.calls.retention import purge_calls, retention_task
from gateway.db.database import Database
from gateway.db.models import Call, CallEvent, Project, Recording, Transcript, TranscriptSegment
from gateway.ids import new_id, ulid
from tests.conftest import Api, run_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
STATUSES = ["completed", "failed", "no-answer", "answered"]


def _call(project_id: str, n: int, created: datetime) -> dict[str, Any]:
    """A call row as the call store writes it: its id minted when it is recorded."""
    millis = int(created.timestamp() * 1000)
    return {
        "id": f"call_{ulid(millis, int.from_bytes(os.urandom(10), 'big'))}",
        "project_id": project_id,
        "direction": "inbound" if n % 3 else "outbound",
        "carrier": "livekit",
        "carrier_call_id": f"SCL_{n}_{project_id}",
        "from_e164": NUMBERS[n % 3],
        "to_e164": NUMBERS[(n + 1) % 3] if n % 2 else "+14155550199",
        "status": STATUSES[n % 4],
        "created_at": created,
        "updated_at": created,
        "last_sequence": -1,
        "meta": {},
    }


async def _default_project(session: AsyncSession) -> str:
    project_id = await session.scalar(select(Project.id).order_by(Project.created_at).limit(1))
    assert project_id is not None
    return project_id


async def _other_project(session: AsyncSession) -> str:
    other = Project(id=new_id("prj"), slug="other-tenant", name="other", settings={})
    session.add(other)
    await session.flush()
    return other.id


def _seed(api: Api, count: int) -> tuple[str, list[dict[str, Any]]]:
    settings = api.client.app.state.services.settings

    async def work(session: AsyncSession) -> tuple[str, list[dict[str, Any]]]:
        project_id = await _default_project(session)
        other = await _other_project(session)
        rows = [_call(project_id, n, NOW - timedelta(hours=count - n)) for n in range(count)]
        foreign = [_call(other, n, NOW - timedelta(hours=count - n)) for n in range(10)]
        await session.execute(insert(Call), rows + foreign)
        await session.commit()
        return project_id, rows

    result: tuple[str, list[dict[str, Any]]] = run_db(settings, work)
    return result


def _all_pages(api: Api, params: dict[str, str]) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        response = api.get("/v1/calls", params={**params, "limit": 7, **({"after": after} if after else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [c["id"] for c in body["items"]]
        after = body["next_after"]
        if after is None:
            return ids


def _matches(row: dict[str, Any], params: dict[str, str]) -> bool:
    number = params.get("number")
    return (
        ("status" not in params or row["status"] == params["status"])
        and ("direction" not in params or row["direction"] == params["direction"])
        and (number is None or number in (row["from_e164"], row["to_e164"]))
        and ("since" not in params or row["created_at"] >= datetime.fromisoformat(params["since"]))
        and ("until" not in params or row["created_at"] < datetime.fromisoformat(params["until"]))
    )


FILTERS: list[dict[str, str]] = [
    {},
    {"status": "failed"},
    {"direction": "outbound"},
    {"number": NUMBERS[1]},
    {"number": NUMBERS[2], "status": "completed"},
    {"since": (NOW - timedelta(hours=20)).isoformat()},
    {"until": (NOW - timedelta(hours=30)).isoformat(), "direction": "inbound"},
    {"since": (NOW - timedelta(hours=50)).isoformat(), "until": (NOW - timedelta(hours=10)).isoformat()},
]


def test_keyset_pages_of_every_filter_list_exactly_the_matching_calls_in_id_order(api: Api) -> None:
    _, rows = _seed(api, 60)
    for params in FILTERS:
        expected = sorted(r["id"] for r in rows if _matches(r, params))
        assert expected, params
        assert _all_pages(api, params) == expected, params
    since = {"since": (NOW - timedelta(hours=20)).isoformat(), "limit": "5"}
    first = api.get("/v1/calls", params=since).json()["items"]
    older_after = api.get("/v1/calls", params={**since, "after": sorted(r["id"] for r in rows)[3]}).json()
    assert older_after["items"] == first, "an `after` older than `since` starts the page at `since`"


PLANS = {
    "": {},
    "status": {"status": "failed"},
    "direction": {"direction": "inbound"},
    "from_id": {"number": NUMBERS[0]},
    "to_id": {"number": NUMBERS[0]},
    "page": {"since": NOW.isoformat()},
}


@pytest.mark.parametrize("index", sorted(PLANS))
def test_each_filter_reads_its_page_off_its_own_index(api: Api, index: str) -> None:
    settings = api.client.app.state.services.settings
    params: dict[str, Any] = dict(PLANS[index])
    if "since" in params:
        params["since"] = datetime.fromisoformat(params["since"])

    async def plan(session: AsyncSession) -> str:
        project_id = await _default_project(session)
        stmt = calls_query(project_id, **params).order_by(Call.id).limit(51)
        compiled = stmt.compile(session.bind, compile_kwargs={"literal_binds": True})
        if session.bind.dialect.name == "sqlite":
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            return "\n".join(str(row[-1]) for row in rows)
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await session.execute(text(f"EXPLAIN {compiled}"))
        return "\n".join(str(row[0]) for row in rows)

    found = run_db(settings, plan)
    name = f"ix_calls_project_{index}" if index not in ("", "page") else "ix_calls_project_page"
    assert name in found, found


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.at(database_url)
    yield db
    await db.dispose()


async def _seed_with_history(database: Database, ages_in_days: list[int]) -> list[str]:
    async with database.session() as session:
        project_id = await _other_project(session)
        rows = [_call(project_id, n, NOW - timedelta(days=age)) for n, age in enumerate(ages_in_days)]
        await session.execute(insert(Call), rows)
        for n, row in enumerate(rows):
            session.add(
                CallEvent(call_id=row["id"], seq=0, at=row["created_at"], kind="status.ringing", source="t")
            )
            recording = Recording(
                id=new_id("rec"),
                project_id=project_id,
                call_id=row["id"],
                source="livekit",
                external_id=f"EG_{n}",
                status="completed",
            )
            transcript = Transcript(
                id=new_id("trs"), project_id=project_id, call_id=row["id"], provider="t", status="done"
            )
            session.add_all([recording, transcript])
            await session.flush()
            session.add(TranscriptSegment(transcript_id=transcript.id, start_ms=0, end_ms=1, text="hello"))
        await session.commit()
        return [row["id"] for row in rows]


async def _remaining(database: Database) -> dict[str, set[str]]:
    async with database.session() as session:
        calls = set((await session.scalars(select(Call.id))).all())
        events = set((await session.scalars(select(CallEvent.call_id))).all())
        recordings = {r for r in (await session.scalars(select(Recording.call_id))).all() if r}
        transcripts = {t for t in (await session.scalars(select(Transcript.call_id))).all() if t}
        segments = len((await session.scalars(select(TranscriptSegment.id))).all())
    return {
        "calls": calls,
        "events": events,
        "recordings": recordings,
        "transcripts": transcripts,
        "segments": {str(segments)},
    }


@pytest.mark.anyio
async def test_retention_deletes_old_calls_with_their_history_in_small_batches(database: Database) -> None:
    ids = await _seed_with_history(database, [40, 35, 31, 40, 29, 1, 0])
    deleted = await purge_calls(database, NOW - timedelta(days=30), batch=2)
    assert deleted == 4
    kept = set(ids[4:])
    assert await _remaining(database) == {
        "calls": kept,
        "events": kept,
        "recordings": kept,
        "transcripts": kept,
        "segments": {"3"},
    }
    assert await purge_calls(database, NOW - timedelta(days=30)) == 0, "nothing left to delete"


@pytest.mark.anyio
async def test_the_retention_task_purges_by_the_setting_and_zero_keeps_everything(database: Database) -> None:
    ids = await _seed_with_history(database, [10, 2])
    async with retention_task(database, 0, first_delay=0):
        await asyncio.sleep(0.1)
    assert (await _remaining(database))["calls"] == set(ids)
    async with retention_task(database, 5, first_delay=0, interval=60, clock=lambda: NOW):
        for _ in range(100):
            if (await _remaining(database))["calls"] == {ids[1]}:
                break
            await asyncio.sleep(0.05)
    assert (await _remaining(database))["calls"] == {ids[1]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
