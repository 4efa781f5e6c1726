"""`BulkInsert` and `BulkUpdate` write exactly what SQLAlchemy's own `insert()` and `update()` write: same rows read
back through the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from gateway.calls.records import CALL_COLUMNS, EVENT_COLUMNS
from gateway.db.bulk import BulkInsert, BulkUpdate, write_together
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import Call, CallEvent, Project
from gateway.db.types import UTCDateTime

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def call_row(call_id: str, sid: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CALL_COLUMNS)
    row.update(
        id=call_id,
        project_id="prj_bulk",
        direction="inbound",
        carrier="twilio",
        carrier_call_id=sid,
        from_e164="+447700900123",
        to_e164="+442079460000",
        status="ringing",
        created_at=AT,
        updated_at=AT + timedelta(microseconds=1),
        ringing_at=AT.replace(microsecond=0),  # no fraction: still stored with one, like SQLAlchemy does
        last_sequence=-1,
        lifecycle={"state": "ringing", "nested": {"list": [1, 2.5, None, "é"]}},
        ivr_state=None,
        routing={},
        meta={"quote": 'a "b" \\ c', "unicode": "Zürich ☎"},
    )
    row.update(values)
    return row


def event_rows(call_id: str) -> list[dict[str, Any]]:
    return [
        {
            "call_id": call_id,
            "seq": seq,
            "at": AT,
            "kind": f"k{seq}",
            "source": "twilio",
            "data": data,
            "dedupe_key": key,
        }
        for seq, data, key in ((1, {"a": 1}, None), (2, {}, "dedupe-1"), (3, {"digits": "***"}, None))
    ]


def comparable(obj: Any, columns: tuple[str, ...], drop: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in columns if name not in drop}


@pytest.mark.db
def test_bulk_rows_read_back_like_sqlalchemys_own_inserts(database_url: str) -> None:
    async def scenario() -> None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                db.add(Project(id="prj_bulk", slug="bulk", name="Bulk", settings={}))
                await db.commit()
            bulk_calls, bulk_events = BulkInsert(Call, CALL_COLUMNS), BulkInsert(CallEvent, EVENT_COLUMNS)
            async with engine.begin() as connection:
                await bulk_calls.execute(
                    connection, [call_row("call_bulk", "CA1"), call_row("call_bulk2", "CA2")]
                )
                await bulk_events.execute(connection, event_rows("call_bulk"))
                await connection.execute(insert(Call), [call_row("call_core", "CA3")])
                await connection.execute(insert(CallEvent), event_rows("call_core"))
            async with session_factory(engine)() as db:
                calls = {c.id: c for c in (await db.scalars(select(Call))).all()}
                events = (
                    await db.scalars(select(CallEvent).order_by(CallEvent.call_id, CallEvent.seq))
                ).all()
                null_state = await db.scalar(select(Call.id).where(Call.ivr_state.is_(None)))
                ordered = (
                    await db.scalars(select(Call.id).where(Call.ringing_at < AT).order_by(Call.id))
                ).all()
        finally:
            await engine.dispose()
        drop = ("id", "carrier_call_id")
        assert comparable(calls["call_bulk"], CALL_COLUMNS, drop) == comparable(
            calls["call_core"], CALL_COLUMNS, drop
        )
        assert calls["call_bulk"].ringing_at == AT.replace(microsecond=0)
        assert calls["call_bulk"].meta["unicode"] == "Zürich ☎"
        by_call: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_call.setdefault(event.call_id, []).append(comparable(event, EVENT_COLUMNS, ("call_id",)))
        assert by_call["call_bulk"] == by_call["call_core"]
        assert len(by_call["call_bulk"]) == 3
        # JSON None is stored the way SQLAlchemy stores it (JSON null, not SQL NULL) on both paths
        assert null_state is None
        # datetimes compare in SQL the same way on both paths (same text format on SQLite)
        assert ordered == ["call_bulk", "call_bulk2", "call_core"]

    asyncio.run(scenario())


@pytest.mark.db
def test_a_unique_conflict_in_a_bulk_insert_writes_none_of_the_batch_and_hides_the_values(
    database_url: str,
) -> None:
    async def scenario() -> int:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                db.add(Project(id="prj_bulk", slug="bulk", name="Bulk", settings={}))
                await db.commit()
            bulk = BulkInsert(Call, CALL_COLUMNS)
            with pytest.raises(IntegrityError, match=r"(?i)unique") as refused:
                async with engine.begin() as connection:
                    await bulk.execute(connection, [call_row("call_a", "CA1"), call_row("call_b", "CA1")])
            assert "+447700900123" not in str(refused.value)  # logged errors carry no caller numbers
            async with session_factory(engine)() as db:
                return len((await db.scalars(select(Call))).all())
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 0


@pytest.mark.db
def test_statements_written_together_commit_together_and_a_conflict_undoes_them_all(
    database_url: str,
) -> None:
    """`write_together` (the group-commit writers' transaction; on SQLite straight on the driver): all or nothing,
    and the connection goes back to the pool fit for the next transaction."""
    calls, events = BulkInsert(Call, CALL_COLUMNS), BulkInsert(CallEvent, EVENT_COLUMNS)

    async def scenario() -> tuple[list[str], list[tuple[str, int]], list[str]]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                db.add(Project(id="prj_bulk", slug="bulk", name="Bulk", settings={}))
                await db.commit()
            await write_together(
                engine, ((calls, [call_row("call_1", "CA1")]), (events, event_rows("call_1")))
            )
            with pytest.raises(IntegrityError, match=r"(?i)unique") as refused:
                await write_together(
                    engine,
                    (
                        (calls, [call_row("call_2", "CA2")]),
                        (events, event_rows("call_2")),
                        (calls, [call_row("call_3", "CA1")]),  # CA1 is recorded: the whole batch is refused
                    ),
                )
            assert "+447700900123" not in str(refused.value)
            await write_together(engine, ((calls, [call_row("call_4", "CA4")]), (events, [])))
            async with session_factory(engine)() as db:
                stored = list((await db.scalars(select(Call.id).order_by(Call.id))).all())
                stored_events = [
                    (event.call_id, event.seq)
                    for event in (
                        await db.scalars(select(CallEvent).order_by(CallEvent.call_id, CallEvent.seq))
                    )
                ]
                in_session = list((await db.scalars(select(Call.id).where(Call.id == "call_4"))).all())
            return stored, stored_events, in_session
        finally:
            await engine.dispose()

    stored, stored_events, in_session = asyncio.run(scenario())
    assert stored == ["call_1", "call_4"]
    assert stored_events == [("call_1", 1), ("call_1", 2), ("call_1", 3)]
    assert in_session == ["call_4"]


CHANGED = {
    "status": "completed",
    "ended_at": AT + timedelta(seconds=42, microseconds=7),
    "duration_s": 42,
    "end_reason": None,
    "lifecycle": {"state": "completed", "nested": {"list": ["é", None]}},
    "updated_at": AT + timedelta(minutes=1),
}


@pytest.mark.db
def test_bulk_updates_read_back_like_sqlalchemys_own_updates(database_url: str) -> None:
    async def scenario() -> dict[str, Call]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                db.add(Project(id="prj_bulk", slug="bulk", name="Bulk", settings={}))
                await db.commit()
            rows = [call_row(f"call_{n}", f"CA{n}", end_reason="was set") for n in ("bulk", "core", "kept")]
            async with engine.begin() as connection:
                await connection.execute(insert(Call), rows)
                await BulkUpdate(Call, tuple(CHANGED)).execute(connection, [{**CHANGED, "id": "call_bulk"}])
                await connection.execute(update(Call).where(Call.id == "call_core").values(CHANGED))
            async with session_factory(engine)() as db:
                return {c.id: c for c in (await db.scalars(select(Call))).all()}
        finally:
            await engine.dispose()

    calls = asyncio.run(scenario())
    drop = ("id", "carrier_call_id")
    assert comparable(calls["call_bulk"], CALL_COLUMNS, drop) == comparable(
        calls["call_core"], CALL_COLUMNS, drop
    )
    assert calls["call_bulk"].status == "completed"
    assert calls["call_bulk"].end_reason is None
    assert calls["call_kept"].status == "ringing", "only the row named by its id changes"
    assert calls["call_kept"].end_reason == "was set"


def test_a_bulk_update_names_its_row_by_key_and_sets_only_other_columns() -> None:
    with pytest.raises(ValueError, match="identifies the row"):
        BulkUpdate(Call, ("id", "status"))
    with pytest.raises(ValueError, match="no columns"):
        BulkUpdate(Call, ("colour",))
    with pytest.raises(ValueError, match="needs exactly the columns"):  # `updated_at` has an onupdate default
        BulkUpdate(Call, ("status",)).prepare(sqlite.dialect())
    prepared = BulkUpdate(Call, ("status", "updated_at")).prepare(sqlite.dialect())
    assert prepared.keys == ("status", "updated_at", "id")
    assert prepared.sql.endswith("WHERE calls.id = ?")


def test_columns_must_exist_and_cover_every_column_with_a_default() -> None:
    with pytest.raises(ValueError, match="no columns"):
        BulkInsert(Call, (*CALL_COLUMNS, "colour"))
    bulk = BulkInsert(
        CallEvent, ("call_id", "seq", "kind", "source", "dedupe_key")
    )  # `at`, `data` have defaults
    with pytest.raises(ValueError, match="needs exactly the columns"):
        bulk.prepare(sqlite.dialect())


@given(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        )
    )
)
def test_utc_datetimes_are_stored_on_sqlite_as_sqlalchemys_datetime_stores_them(value: datetime) -> None:
    dialect = sqlite.dialect()
    fast = UTCDateTime().bind_processor(dialect)
    generic = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None
    assert generic is not None
    assert fast(value) == generic(value.astimezone(UTC).replace(tzinfo=None))
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive"):
        fast(value.replace(tzinfo=None))
