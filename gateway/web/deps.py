"""Request-scoped dependencies: the request's one database session and the calling principal.

Every /v1 request gets one session (`RequestSession`, outermost on the /v1 router): the API key check reads
through it and handlers receive it as `db`. It is closed, and rolled back if left uncommitted, when the response
has been sent.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.middleware import AbstractAuthenticationMiddleware, ASGIMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.principal import Principal, authenticate
from gateway.db.database import Database

_SESSION_KEY = "trunkline.db"


class RequestSession(ASGIMiddleware):
    """Opens the request's session before anything reads the database, closes it after the response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        database: Database = scope["litestar_app"].state.services.database
        async with database.session() as session:
            scope.setdefault("state", {})[_SESSION_KEY] = session
            await next_app(scope, receive, send)


def request_session(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    """The session `RequestSession` opened for this request."""
    session: AsyncSession = connection.scope["state"][_SESSION_KEY]
    return session


class ApiKeyAuthMiddleware(AbstractAuthenticationMiddleware):
    """The API key in `Authorization`, checked through the request's session (`RequestSession` runs first)."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        source_ip = connection.client.host if connection.client else None
        session = request_session(connection)
        try:
            principal = await authenticate(session, connection.headers.get("authorization"), source_ip)
        finally:
            await session.commit()  # a read: end it, so the handler starts with no transaction open
        return AuthenticationResult(user=principal, auth=principal.key_id)


def provide_db(request: Request[Any, Any, State]) -> AsyncSession:
    return request_session(request)


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


Db = NamedDependency[AsyncSession]
"""The request's database session (the `db` dependency)."""
Caller = NamedDependency[Principal]
"""The authenticated API key's principal (the `principal` dependency)."""
