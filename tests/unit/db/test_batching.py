"""`Batcher`: work handed over during the next few loop turns shares a batch; a lone item is not held back."""

from __future__ import annotations

import asyncio

import pytest

from gateway.db.batching import Batcher


async def _batches(arrival_turns: list[int], *, gather_rounds: int) -> list[list[int]]:
    batches: list[list[int]] = []

    async def write(batch: list[int]) -> None:
        batches.append(list(batch))

    batcher: Batcher[int] = Batcher(write, name="test", max_batch=100, gather_rounds=gather_rounds)
    batcher.start()

    async def put_after(turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        batcher.put(turns)

    await asyncio.gather(*(put_after(turns) for turns in arrival_turns))
    await batcher.stop()
    return batches


def test_items_arriving_over_the_next_loop_turns_share_one_batch() -> None:
    assert asyncio.run(_batches([0, 1, 2, 3], gather_rounds=4)) == [[0, 1, 2, 3]]
    assert len(asyncio.run(_batches([0, 1, 2, 3], gather_rounds=0))) > 1, "without gathering they would not"


@pytest.mark.parametrize("gather_rounds", [0, 4])
def test_a_lone_item_is_written_within_a_few_loop_turns(gather_rounds: int) -> None:
    async def scenario() -> int:
        written = asyncio.Event()

        async def write(batch: list[int]) -> None:
            written.set()

        batcher: Batcher[int] = Batcher(write, name="test", max_batch=100, gather_rounds=gather_rounds)
        batcher.start()
        batcher.put(1)
        turns = 0
        while not written.is_set():
            await asyncio.sleep(0)
            turns += 1
        await batcher.stop()
        return turns

    assert asyncio.run(scenario()) <= 3
