"""Webhook deliveries already handled (LiveKit event ids, ...): a replay is answered as a duplicate.

A delivery is remembered after its effects are saved; the effects themselves are idempotent, so a crash between
the two only means the replay applies them again, harmlessly.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from gateway.db.database import Database
from gateway.db.models import InboundReceipt


async def seen(database: Database, source: str, key: str) -> bool:
    async with database.session() as db:
        return await db.get(InboundReceipt, (source, key)) is not None


async def remember(database: Database, source: str, key: str) -> None:
    try:
        async with database.session() as db:
            db.add(InboundReceipt(source=source, key=key))
            await db.commit()
    except IntegrityError:
        pass  # received meanwhile by another request or replica
