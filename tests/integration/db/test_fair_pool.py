"""SQLite's single pooled connection goes to waiting requests in arrival order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.db.engine import create_engine


def test_a_newcomer_waits_behind_the_requests_already_waiting(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fair.db'}")
        order: list[str] = []

        async def request(name: str) -> None:
            async with engine.connect() as connection:
                order.append(name)
                await connection.execute(text("SELECT 1"))
                await asyncio.sleep(0.005)

        holder = await engine.connect()
        await holder.execute(text("SELECT 1"))
        waiting = [asyncio.create_task(request(name)) for name in ("B", "C")]
        await asyncio.sleep(0.01)  # B and C are now waiting for the connection, in that order
        newcomer = asyncio.create_task(
            request("D")
        )  # ready to ask in the same turn the connection comes back
        await holder.close()
        await asyncio.gather(*waiting, newcomer)
        await engine.dispose()
        return order

    assert asyncio.run(scenario()) == ["B", "C", "D"]


def test_a_waiter_that_times_out_gives_up_its_place(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fair.db'}", pool_timeout=0.05)
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(Exception, match=r"(?i)timeout"):
                async with engine.connect() as waiting:
                    await waiting.execute(text("SELECT 1"))
        async with engine.connect() as later:  # the timed-out waiter is not handed the connection
            assert (await later.execute(text("SELECT 1"))).scalar() == 1
        await engine.dispose()

    asyncio.run(scenario())
