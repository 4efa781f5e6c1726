"""Request-scoped dependencies: a database session and the calling principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.principal import Principal


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


Db = NamedDependency[AsyncSession]
"""A request-scoped database session (the `db` dependency)."""
Caller = NamedDependency[Principal]
"""The authenticated API key's principal (the `principal` dependency)."""
