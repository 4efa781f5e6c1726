"""Many-row INSERTs and UPDATEs for the group-commit writers, without SQLAlchemy's per-execution work for each row.

`insert(Table)` executed with a list of dicts makes SQLAlchemy build and process every row's parameters through
its generic machinery (cache keys, parameter dicts, one type processor lookup per value); on the webhook hot paths
that cost more than SQLite spends storing the rows. `BulkInsert` and `BulkUpdate` compile their statement once per
dialect, keep the columns' own bind processors (so values are converted exactly as SQLAlchemy would convert them:
UTC datetimes, JSON, ...), and hand the driver ready tuples: on SQLite straight to the inline driver, elsewhere
through `exec_driver_sql`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

from gateway.db.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any]


class _Prepared:
    """The compiled SQL, and how to turn a row mapping into its parameters: the values in statement order (one C
    call), then the columns whose type converts values (datetimes, JSON...) converted."""

    __slots__ = ("converted", "keys", "sql", "values_of")

    def __init__(self, sql: str, keys: tuple[str, ...], processors: tuple[Processor | None, ...]) -> None:
        self.sql = sql
        self.keys = keys
        self.values_of: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
        )
        self.converted = tuple(
            (index, process) for index, process in enumerate(processors) if process is not None
        )

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self.values_of(row)
        if not self.converted:
            return values
        converted = list(values)
        for index, process in self.converted:
            converted[index] = process(converted[index])
        return tuple(converted)


class _BulkStatement(ABC):
    """A statement compiled once per dialect, run with many rows in one executemany."""

    def __init__(self, model: type[DeclarativeBase], columns: Sequence[str]) -> None:
        table = cast(Table, model.__table__)
        unknown = set(columns) - set(table.columns.keys())
        if unknown:
            raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
        self.table = table
        self.columns = tuple(columns)
        self._prepared: dict[str, _Prepared] = {}

    @abstractmethod
    def _compile(self, dialect: Dialect) -> Any:
        """The statement compiled for `dialect` (positional parameters)."""

    def _column_of(self, parameter: str) -> str:
        """The row key (a column name) a compiled parameter takes its value from."""
        return parameter

    def prepare(self, dialect: Dialect) -> _Prepared:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            compiled = self._compile(dialect)
            if compiled.positiontup is None:
                raise ValueError(f"{dialect.name} does not use positional parameters")
            keys = tuple(self._column_of(name) for name in compiled.positiontup)
            if sorted(set(keys)) != sorted(self.columns):  # a column default SQLAlchemy would fill in per row
                raise ValueError(
                    f"this statement on {self.table.name} needs exactly the columns {sorted(keys)}"
                )
            processors = tuple(self.table.columns[key].type._cached_bind_processor(dialect) for key in keys)
            prepared = _Prepared(str(compiled), keys, processors)
            self._prepared[dialect.name] = prepared
        return prepared

    def parameters(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in statement order, converted by the column types; every column must be given."""
        parameters = self.prepare(dialect).parameters
        return [parameters(row) for row in rows]

    async def execute(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run for `rows` in `connection`'s transaction. On SQLite straight on the inline driver: SQLAlchemy's
        execution layer cost ~40 us per statement, more than SQLite spends on a batch's rows."""
        if not rows:
            return
        dialect = connection.dialect
        driver = (
            connection.sync_connection.connection.driver_connection if connection.sync_connection else None
        )
        if isinstance(driver, InlineConnection):
            await self.execute_inline(driver, dialect, rows)
        else:
            await connection.exec_driver_sql(self.prepare(dialect).sql, self.parameters(dialect, rows))

    async def execute_inline(
        self, driver: InlineConnection, dialect: Dialect, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run for `rows` on SQLite's inline driver, in its current transaction."""
        if rows:
            await driver.executemany(self.prepare(dialect).sql, self.parameters(dialect, rows))


class BulkInsert(_BulkStatement):
    """INSERT INTO table (columns) VALUES (...), one row per mapping."""

    def _compile(self, dialect: Dialect) -> Any:
        return self.table.insert().compile(dialect=dialect, column_keys=list(self.columns))


class BulkUpdate(_BulkStatement):
    """UPDATE table SET (every column but `key`) WHERE key = ..., one row per mapping (which includes `key`).

    Column `onupdate` defaults are not applied: list such columns (`updated_at`) and give their values."""

    _WHERE = "where_"

    def __init__(self, model: type[DeclarativeBase], columns: Sequence[str], *, key: str = "id") -> None:
        if key in columns:
            raise ValueError(f"{key} identifies the row; it is not one of the columns to set")
        super().__init__(model, (*columns, key))
        self.key = key

    def _compile(self, dialect: Dialect) -> Any:
        table = self.table
        values: dict[str, Any] = {name: bindparam(name) for name in self.columns if name != self.key}
        statement = (
            table.update().where(table.c[self.key] == bindparam(self._WHERE + self.key)).values(values)
        )
        return statement.compile(dialect=dialect)

    def _column_of(self, parameter: str) -> str:
        return parameter.removeprefix(self._WHERE)


Rows = Sequence[Mapping[str, Any]]


async def write_together(engine: AsyncEngine, writes: Sequence[tuple[_BulkStatement, Rows]]) -> None:
    """Run each statement with its rows, in order, in one transaction of its own.

    On SQLite the pooled connection's inline driver is used directly (BEGIN, executemany, COMMIT): SQLAlchemy's
    `Connection` and `Transaction` around them cost ~55 us per transaction, more than a small batch's rows. A
    failed statement rolls the transaction back and raises as under `engine.begin()` (`IntegrityError` for a
    duplicate key).
    """
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            for statement, rows in writes:
                await statement.execute(connection, rows)
        return
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        if not isinstance(driver, InlineConnection):
            raise TypeError("SQLite engines run on the inline driver (gateway.db.engine.create_engine)")
        driver.begin()
        try:
            for statement, rows in writes:
                await statement.execute_inline(driver, engine.dialect, rows)
            await driver.commit()
        except BaseException:
            try:
                await driver.rollback()
            except Exception:  # a connection in an unknown state is not given to anyone else
                pooled.invalidate()
            raise
    finally:
        await greenlet_spawn(pooled.close)
