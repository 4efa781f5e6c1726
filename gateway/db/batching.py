"""Group commit: requests hand work to one background task that writes whatever piled up in one transaction.

`Batcher` owns only the queue and the loop; each writer supplies `write(batch)` (one transaction, answering every
item's future itself) and decides what to do when it is not running (usually: write the item alone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

GATHER_ROUNDS = 4
"""Loop turns a batch waits for more work (see `Batcher._gather`): a transaction's fixed cost dwarfs a row's own, so
under load a voice webhook costs ~5% less CPU than when each batch takes only what was pending when it woke."""


class Batcher(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int,
        gather_rounds: int = GATHER_ROUNDS,
    ) -> None:
        self._write = write
        self.gather_rounds = gather_rounds
        self._name = name
        self.max_batch = max_batch
        self._pending: list[T] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None

    def put(self, item: T) -> None:
        self._pending.append(item)
        self._wake.set()

    async def _run(self) -> None:
        while not self._closing or self._pending:
            await self._wake.wait()
            await self._gather()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                await self._write(batch)

    async def _gather(self) -> None:
        """Let requests the loop is about to run join this batch: yield while each round brings more (a few
        loop turns, microseconds), since every transaction has a fixed cost that a bigger batch shares."""
        for _ in range(self.gather_rounds):
            before = len(self._pending)
            await asyncio.sleep(0)
            if len(self._pending) == before or len(self._pending) >= self.max_batch:
                return
