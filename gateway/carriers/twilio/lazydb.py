"""The voice webhook's database session, opened on first use.

A new call is answered from the cached account and written by the group-commit writer, so most voice webhooks
never touch a session of their own; creating and closing one anyway costs a noticeable share of the request.
Only a retry, a bridge or an outbound call opens it, and then it is the request's one session.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class LazySession:
    """Stands in for an `AsyncSession`; the real one is made on the first attribute used."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    def _open(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)

    def in_transaction(self) -> bool:
        return self._session is not None and self._session.in_transaction()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class lazy_session:
    """The request's lazily opened session, closed on exit (a class: cheaper than a generator-based manager)."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._lazy = LazySession(factory)

    async def __aenter__(self) -> AsyncSession:
        return cast(AsyncSession, self._lazy)

    async def __aexit__(self, *exc: object) -> None:
        await self._lazy.aclose()
