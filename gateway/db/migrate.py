"""Apply Alembic migrations (on start and through `trunkline db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.locks import hold_for_transaction

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK = "trunkline.migrations"
"""Replicas starting together on one PostgreSQL database migrate one after the other: the first applies the
migrations, the others wait, then find the database at head. (SQLite's file lock serialises its writers.)"""


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _upgrade(connection: Connection, config: Config) -> bool:
    head = ScriptDirectory.from_config(config).get_current_head()
    current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return False
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return True


async def upgrade(engine: AsyncEngine) -> bool:
    """Bring the database to the newest revision; returns whether anything was applied."""
    config = alembic_config()
    async with engine.begin() as connection:
        await hold_for_transaction(connection, LOCK)
        return await connection.run_sync(_upgrade, config)
