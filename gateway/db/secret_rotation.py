"""Stored secrets under the newest key: legacy plain values encrypted at start-up; everything on rotation."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Base
from gateway.security.keyring import Keyring, is_encrypted

_log = logging.getLogger(__name__)

SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    "projects": ("twilio_auth_token", "livekit_api_secret"),
    "trunks": ("auth_password",),
    "webhook_subscriptions": ("secret",),
    "flow_secrets": ("value",),
}
"""Every encrypted column (`EncryptedString`), by table."""


async def reencrypt(session: AsyncSession, keyring: Keyring, *, everything: bool) -> int:
    """Re-encrypt stored secrets under the keyring's newest key, in one transaction; returns how many changed.

    `everything=False` touches only plain legacy values (start-up); `True` every secret (rotation)."""
    changed = 0
    for name, columns in SECRET_COLUMNS.items():
        # Untyped columns: the raw stored text, not what EncryptedString would make of it.
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in columns))
        limits = {c: getattr(Base.metadata.tables[name].c[c].type, "length", None) for c in columns}
        for row in (await session.execute(sa.select(table))).all():
            values: dict[str, str] = {}
            for column, stored in zip(columns, row[1:], strict=True):
                if stored is None or not (everything or not is_encrypted(str(stored))):
                    continue
                encrypted = keyring.reencrypt(str(stored))
                limit = limits[column]
                if limit is not None and len(encrypted) > limit:
                    _log.warning(
                        "a stored secret is too long to encrypt in its column; set it again through the API",
                        extra={"table": name, "column": column, "id": row.id},
                    )
                    continue
                values[column] = encrypted
            if values:
                await session.execute(sa.update(table).where(table.c.id == row.id).values(**values))
                changed += len(values)
    await session.commit()
    if changed:
        _log.info("secrets re-encrypted", extra={"count": changed, "all": everything})
    return changed
