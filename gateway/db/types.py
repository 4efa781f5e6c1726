"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from gateway.security.keyring import EngineKeys

JsonColumn = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME stores (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC) made in one C call:
        `process_bind_param` followed by DATETIME's formatting costs ~3 us per value on the write hot paths."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


KEYS_ATTRIBUTE = "trunkline_keys"
"""The attribute of an engine's dialect that holds its `EngineKeys` (set by `gateway.db.engine.create_engine`)."""


def engine_keys(dialect: Dialect) -> EngineKeys:
    keys: EngineKeys | None = getattr(dialect, KEYS_ATTRIBUTE, None)
    if keys is None:
        raise RuntimeError(
            "This engine has no secret keys: create it with gateway.db.engine.engine_for(settings) "
            "(or create_engine(url, keys=...))."
        )
    return keys


class EncryptedString(TypeDecorator[str]):
    """A secret stored encrypted (Fernet, `fernet:` marker) with the engine's keyring; plain text in Python.

    Values without the marker (stored before encryption existed) read back as they are. A Fernet token is about
    1.4 x the plain text + 80 characters: the API caps secrets so they fit (64 ASCII characters in a 200 column,
    256 in a 500 one; `SECRET_LIMITS`)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        stored = engine_keys(dialect).keyring.encrypt(value)
        length = getattr(self.impl, "length", None)
        if length is not None and len(stored) > length:
            raise ValueError(f"an encrypted secret of {len(value)} characters does not fit its column")
        return stored

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return engine_keys(dialect).keyring.decrypt(str(value))
