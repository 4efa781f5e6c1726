"""The migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.db.engine import create_engine
from gateway.db.models import Base


def test_models_match_migrations(database_url: str) -> None:
    async def diff() -> list[object]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: list(compare_metadata(MigrationContext.configure(sync), Base.metadata))
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
