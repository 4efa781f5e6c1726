"""Rate limits in fixed one-minute windows: failed authentication per client address, requests per API key.

- `failed_auth_limit(statuses)`: middleware for unauthenticated entry points (/v1 before its key check, the carrier
  webhooks). Each answer in `statuses` (401 for an unknown API key, 403 for a webhook that fails its signature)
  counts against the client's address; once an address reaches the limit, its requests get 429 until the window
  ends, without being read.
- `per_key_limit`: middleware after /v1's authentication: every request counts against its API key.

Counts live in the database on PostgreSQL (`rate_limit_counters`, one upsert per counted request), so replicas
share them; on SQLite (one process) in memory. A replica remembers the addresses and keys it saw reach a limit, so
refusing them costs nothing; another replica refuses an address at its next failure (the shared count is past the
limit by then). Litestar's own rate-limit middleware counts every request by one identifier before it is handled,
with a read-then-write of its store that replicas would race on; it cannot count only failed authentication.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from ipaddress import ip_address, ip_network
from typing import Any, Protocol

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import Table, case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.models import RateLimitCounter
from gateway.errors import RateLimited
from gateway.web.problems import status_of

WINDOW = 60
"""Seconds per counting window."""
_FORGET_AFTER = 100_000
"""Keys a counter or the list of refused keys holds in memory before dropping those of past windows."""

Network = Any  # IPv4Network | IPv6Network


class Counter(Protocol):
    async def hit(self, key: str, window_start: int) -> int:
        """Count one request for `key` in the window starting at `window_start`; the window's count so far."""
        ...


class MemoryCounter:
    """Counts of this process (SQLite: the only one)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, window_start: int) -> int:
        start, hits = self._counts.get(key, (window_start, 0))
        hits = hits + 1 if start == window_start else 1
        if len(self._counts) >= _FORGET_AFTER:
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window_start}
        self._counts[key] = (window_start, hits)
        return hits


class DatabaseCounter:
    """Counts in `rate_limit_counters`, shared by every replica on the database (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pruned = 0

    async def hit(self, key: str, window_start: int) -> int:
        table: Table = RateLimitCounter.__table__  # type: ignore[assignment]
        same_window = table.c.window_start == window_start
        upsert = (
            insert(table)
            .values(key=key, window_start=window_start, hits=1)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={"window_start": window_start, "hits": case((same_window, table.c.hits + 1), else_=1)},
            )
            .returning(table.c.hits)
        )
        async with self._engine.begin() as connection:
            if self._pruned != window_start:  # once per window and replica: forget the windows that ended
                self._pruned = window_start
                await connection.execute(table.delete().where(table.c.window_start < window_start))
            hits: int = (await connection.execute(upsert)).scalar_one()
        return hits


class RequestLimiter:
    """The limits, their counter, and the addresses and keys this replica knows to be over a limit."""

    def __init__(
        self,
        counter: Counter,
        *,
        failed_auth: int,
        per_key: int,
        trusted_proxies: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counter = counter
        self.failed_auth = failed_auth
        self.per_key = per_key
        self._clock = clock
        self._trusted = tuple(
            ip_network(n.strip(), strict=False) for n in trusted_proxies.split(",") if n.strip()
        )
        self._blocked: dict[str, float] = {}
        """Addresses and keys known to be over their limit, until when."""

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        start = int(now // WINDOW) * WINDOW
        return start, now

    def refuse_if_blocked(self, key: str, why: str) -> None:
        until = self._blocked.get(key)
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            del self._blocked[key]
            return
        raise RateLimited(f"{why}; retry in {math.ceil(wait)} s.", extra={"retry_after": round(wait, 3)})

    async def count(self, key: str, limit: int) -> bool:
        """Count one for `key`; whether it has now reached `limit` (it is refused until the window ends)."""
        start, _ = self._window()
        hits = await self.counter.hit(key, start)
        if hits >= limit:
            if len(self._blocked) >= _FORGET_AFTER:
                self._blocked = {k: until for k, until in self._blocked.items() if until > start}
            self._blocked[key] = start + WINDOW
            return True
        return False

    def client_address(self, scope: Scope) -> str:
        """The peer's address, or the client a trusted proxy forwarded for (the last X-Forwarded-For hop it did
        not add itself)."""
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self._trusted or not _within(peer, self._trusted):
            return peer
        forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
        hops = [h.strip() for h in b",".join(forwarded).decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not _within(hop, self._trusted):
                return hop
        return peer


@functools.lru_cache(maxsize=1024)
def _within(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether `address` is in one of `networks` (remembered: a few peers send most requests)."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def _limiter(scope: Scope) -> RequestLimiter | None:
    limiter: RequestLimiter | None = Litestar.from_scope(scope).state.get("request_limiter")
    return limiter


FAILED_AUTH = "Too many failed authentications from your address"
PER_KEY = "This API key made too many requests this minute"


def failed_auth_limit(statuses: frozenset[int]) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware counting answers in `statuses` (raised or sent) against the client's address."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            limiter = _limiter(scope)
            if scope["type"] != ScopeType.HTTP or limiter is None or limiter.failed_auth <= 0:
                await app(scope, receive, send)
                return
            key = "failed:" + limiter.client_address(scope)
            limiter.refuse_if_blocked(key, FAILED_AUTH)
            failed = False

            async def send_watched(message: Message) -> None:
                nonlocal failed
                if message["type"] == "http.response.start" and message["status"] in statuses:
                    failed = True
                await send(message)

            try:
                await app(scope, receive, send_watched)
            except Exception as exc:
                failed = status_of(exc) in statuses
                raise
            finally:
                if failed:
                    await limiter.count(key, limiter.failed_auth)

        return middleware

    return wrap


def per_key_limit(app: ASGIApp) -> ASGIApp:
    """Middleware after authentication: each request counts against its API key."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        limiter = _limiter(scope)
        principal = scope.get("user")
        if limiter is not None and limiter.per_key > 0 and principal is not None:
            key = "key:" + principal.key_id
            limiter.refuse_if_blocked(key, PER_KEY)
            if await limiter.count(key, limiter.per_key + 1):
                limiter.refuse_if_blocked(key, PER_KEY)
        await app(scope, receive, send)

    return middleware


api_failed_auth_limit = failed_auth_limit(frozenset({401}))
"""For /v1, outside its API key check: unknown, malformed, revoked or expired keys count (401)."""
webhook_failed_auth_limit = failed_auth_limit(frozenset({401, 403}))
"""For the carrier and LiveKit webhooks: unsigned or wrongly signed posts count (403; 401 for LiveKit's)."""


def limiter_for(
    engine: AsyncEngine, *, failed_auth: int, per_key: int, trusted_proxies: str
) -> RequestLimiter:
    """Counts in the database on PostgreSQL (shared by replicas), in memory on SQLite (one process)."""
    shared = engine.dialect.name == "postgresql"
    counter: Counter = DatabaseCounter(engine) if shared else MemoryCounter()
    return RequestLimiter(counter, failed_auth=failed_auth, per_key=per_key, trusted_proxies=trusted_proxies)
