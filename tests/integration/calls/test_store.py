"""The call store on both engines: one owner for creating calls, folding status, appending events and recordings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.calls.lifecycle import CallState, StatusUpdate
from gateway.calls.recordings import RecordingReport
from gateway.calls.store import CallEdit, CallRef, CallStore, NewCall, StoreMisuse
from gateway.db.database import Database
from gateway.db.models import CallEvent, Project, Recording
from gateway.ids import new_id

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.at(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def project_id(database: Database) -> str:
    async with database.session() as db:
        row = Project(
            id=new_id("prj"), slug=new_id("p").lower().replace("_", "-")[:40], name="p", settings={}
        )
        db.add(row)
        await db.commit()
        return row.id


def at(seconds: int) -> datetime:
    return datetime(2026, 12, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def inbound(project_id: str, sid: str) -> NewCall:
    return NewCall(project_id=project_id, direction="inbound", carrier="twilio", carrier_call_id=sid)


async def kinds(database: Database, call_id: str) -> list[tuple[int, str]]:
    async with database.session() as db:
        rows = await db.scalars(select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq))
        return [(e.seq, e.kind) for e in rows.all()]


async def test_a_new_call_is_created_once_with_its_events(database: Database, project_id: str) -> None:
    store = CallStore(database)
    first = store.new(inbound(project_id, "CA1"))
    first.fold(StatusUpdate(state=CallState.RINGING, at=at(0)), source="twilio")
    first.event("routing.decided", {"route_id": None}, source="gateway")
    assert await store.create(first)
    retry = store.new(inbound(project_id, "CA1"))
    retry.event("routing.decided", source="gateway")
    assert not await store.create(retry)
    assert await kinds(database, first.call.id) == [(1, "status.ringing"), (2, "routing.decided")]
    loaded = await store.load(CallRef(carrier="twilio", carrier_call_id="CA1"))
    assert loaded is not None
    assert loaded.call.status == "ringing"


async def test_group_commit_keeps_good_calls_when_one_is_a_retry(database: Database, project_id: str) -> None:
    store = CallStore(database)
    store.start()
    try:
        assert await store.create(store.new(inbound(project_id, "CA-dup")))
        edits = [store.new(inbound(project_id, f"CA-{n}")) for n in range(20)]
        edits.append(store.new(inbound(project_id, "CA-dup")))
        results = await asyncio.gather(*(store.create(edit) for edit in edits))
    finally:
        await store.stop()
    assert results == [True] * 20 + [False]


async def test_saved_status_reports_are_folded_against_the_stored_call(
    database: Database, project_id: str
) -> None:
    store = CallStore(database)
    created = store.new(inbound(project_id, "CA2"))
    assert await store.create(created)
    stale_view = await store.load(CallRef(call_id=created.call.id))
    fresh_view = await store.load(CallRef(call_id=created.call.id))
    assert stale_view is not None
    assert fresh_view is not None
    fresh_view.fold(StatusUpdate(state=CallState.COMPLETED, at=at(30), duration=25), source="twilio")
    await store.save(fresh_view)
    # a view loaded before the call ended still cannot take it back to answered
    stale_view.fold(StatusUpdate(state=CallState.ANSWERED, at=at(5)), source="twilio")
    stale_view.call.route_id = "route_x"
    await store.save(stale_view)
    final = await store.load(CallRef(call_id=created.call.id))
    assert final is not None
    assert (final.call.status, final.call.duration_s, final.call.route_id) == ("completed", 25, "route_x")
    assert final.call.answered_at == at(5)
    assert [kind for _, kind in await kinds(database, created.call.id)] == [
        "status.completed",
        "status.answered",
    ]


async def test_a_replayed_report_changes_nothing(database: Database, project_id: str) -> None:
    store = CallStore(database)
    created = store.new(inbound(project_id, "CA3"))
    assert await store.create(created)
    for _ in range(3):
        changed = await store.change(
            CallRef(call_id=created.call.id),
            lambda edit: edit.fold(
                StatusUpdate(state=CallState.ANSWERED, at=at(3)), source="livekit", dedupe_key="EV_1"
            ),
        )
        assert changed is not None
    assert [kind for _, kind in await kinds(database, created.call.id)] == ["status.answered"]


async def test_concurrent_changes_to_one_call_keep_every_event_in_order(
    database: Database, project_id: str
) -> None:
    store = CallStore(database)
    created = store.new(inbound(project_id, "CA4"))
    assert await store.create(created)

    async def note(n: int) -> None:
        result = await store.change(
            CallRef(call_id=created.call.id), lambda edit: edit.event("note", {"n": n}, source="test")
        )
        assert result is not None

    await asyncio.gather(*(note(n) for n in range(15)))
    await store.stop()
    assert [seq for seq, _ in await kinds(database, created.call.id)] == list(range(1, 16))


async def test_change_or_open_creates_the_call_once(database: Database, project_id: str) -> None:
    store = CallStore(database)
    new = NewCall(project_id=project_id, direction="inbound", carrier="livekit", carrier_call_id="SCL_1")

    async def report(n: int) -> str:
        _, edit = await store.change_or_open(
            new, lambda edit: edit.event("seen", {"n": n}, source="livekit", dedupe_key=f"EV_{n}")
        )
        return edit.call.id

    ids = await asyncio.gather(*(report(n) for n in range(6)))
    assert len(set(ids)) == 1
    assert len(await kinds(database, ids[0])) == 6


async def test_recordings_are_linked_and_only_move_forward(database: Database, project_id: str) -> None:
    store = CallStore(database)
    created = store.new(inbound(project_id, "CA5"))
    assert await store.create(created)
    ref = CallRef(carrier="twilio", carrier_call_id="CA5")
    done = RecordingReport(
        source="twilio", external_id="RE1", status="completed", rank=1, url="https://x/RE1"
    )
    early = RecordingReport(source="twilio", external_id="RE1", status="in-progress", rank=0, duration=7)
    assert await store.record_recording(project_id, done, ref)
    assert await store.record_recording(project_id, early, ref)
    async with database.session() as db:
        row = await db.scalar(select(Recording).where(Recording.external_id == "RE1"))
    assert row is not None
    assert (row.call_id, row.status, row.url, row.duration_s) == (
        created.call.id,
        "completed",
        "https://x/RE1",
        7,
    )


async def test_the_store_refuses_to_run_inside_a_transaction(database: Database, project_id: str) -> None:
    store = CallStore(database)
    async with database.session() as db:
        await db.get(Project, project_id)  # the session's transaction is open now
        with pytest.raises(StoreMisuse, match="commit or roll it back first"):
            await store.create(store.new(inbound(project_id, "CA6")))
        await db.commit()
        assert await store.create(store.new(inbound(project_id, "CA6")))


async def test_a_task_spawned_by_a_request_is_not_held_by_the_requests_transaction(
    database: Database, project_id: str
) -> None:
    store = CallStore(database)
    async with database.session() as db:
        await db.get(Project, project_id)

        async def background() -> bool:  # e.g. a dial that records its outcome later
            return await store.create(store.new(inbound(project_id, "CA7")))

        task = asyncio.create_task(background())
        await asyncio.sleep(0.01)  # it starts while the request's transaction is still open
        await db.commit()
        assert await task


async def test_one_failing_change_in_a_group_leaves_the_others_applied(
    database: Database, project_id: str
) -> None:
    store = CallStore(database)
    created = store.new(inbound(project_id, "CA8"))
    assert await store.create(created)
    store.start()

    def broken(edit: CallEdit) -> None:
        raise ValueError("a bug in one caller's decision")

    ref = CallRef(call_id=created.call.id)
    results = await asyncio.gather(
        store.change(ref, lambda edit: edit.event("first", source="test")),
        store.change(ref, broken),
        store.change(ref, lambda edit: edit.event("second", source="test")),
        return_exceptions=True,
    )
    await store.stop()
    assert isinstance(results[1], ValueError)
    assert sorted(kind for _, kind in await kinds(database, created.call.id)) == ["first", "second"]
