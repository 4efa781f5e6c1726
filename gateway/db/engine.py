"""Engine and session factory.

SQLite runs through `gateway.db.sqlite_inline` (statements in the event loop's thread, WAL, foreign keys, lock waits
that do not block the loop); PostgreSQL through asyncpg.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gateway.db.sqlite_inline import InlineConnection, connector
from gateway.db.types import KEYS_ATTRIBUTE
from gateway.security.keyfiles import private_file

if TYPE_CHECKING:
    from gateway.security.keyring import EngineKeys
    from gateway.settings import Settings


def _begin(connection: Any) -> None:
    # The driver's own transaction handling ignores SAVEPOINTs: a savepoint taken before the first write would
    # start (and its release commit) the transaction. Connections are opened in autocommit mode and BEGIN is
    # issued here, straight on the driver: through `exec_driver_sql` it cost ~45 us per transaction.
    driver: InlineConnection = connection.connection.driver_connection
    driver.begin()


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL; None for other engines and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return parsed.database


_json_encoder = msgspec.json.Encoder()


def json_serializer(value: Any) -> str:
    """JSON columns' text: msgspec's encoder (several times faster than the json module's on call records)."""
    return _json_encoder.encode(value).decode()


def json_deserializer(text: str | bytes) -> Any:
    return msgspec.json.decode(text)


def engine_for(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """The engine of the settings' database, with the keys its secret columns and audit chain need."""
    from gateway.security.keyring import load_engine_keys

    return create_engine(settings.async_database_url, keys=load_engine_keys(settings), **kwargs)


def create_engine(url: str, *, keys: EngineKeys | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`; `keys` (secret keyring, audit key) are needed to read or write secret columns and
    audit records. SQLite files are created private (folder 0700, file 0600)."""
    engine = _create_engine(url, **kwargs)
    if keys is not None:
        setattr(engine.sync_engine.dialect, KEYS_ATTRIBUTE, keys)
    return engine


def _create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)  # errors and logs must not carry callers' numbers
    kwargs.setdefault("json_serializer", json_serializer)
    kwargs.setdefault("json_deserializer", json_deserializer)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            private_file(Path(path))
            # One connection: SQLite has one writer at a time, and writers that contend for the lock back off by
            # sleeping, which collapses throughput under load. Queuing on the pool instead is fast. The call store
            # refuses to run inside a caller's open transaction (gateway.db.database), so nothing waits for itself;
            # a request holds one session (gateway.web.deps), so none waits for the connection twice. (In-memory
            # databases get a StaticPool.)
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 30)
        uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
        kwargs.setdefault("async_creator", connector(parsed.database or ":memory:", uri=uri))
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "begin", _begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if kwargs.pop("no_pool", False):
        kwargs["poolclass"] = NullPool
    return create_async_engine(url, **kwargs)
