"""URLs no handler can use, refused before any handler reads them: a NUL byte in the path or the query.

No identifier, cursor or parameter of this service holds one, and PostgreSQL's text cannot: passed on, it fails the
query (a 500) instead of finding nothing.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.errors import AppError


class NulInUrl(AppError):
    title = "Invalid URL"


def refuse_nul_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            query = scope.get("query_string", b"")
            if "\x00" in scope["path"] or (b"%00" in query or b"\x00" in query):
                raise NulInUrl(
                    "The URL's path or query holds a NUL byte (%00), which no identifier or parameter here "
                    "contains. Remove it and send the request again."
                )
        await app(scope, receive, send)

    return middleware
