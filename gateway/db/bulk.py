"""Many-row INSERTs for the group-commit writers, without SQLAlchemy's per-execution work for each row.

`insert(Table)` executed with a list of dicts makes SQLAlchemy build and process every row's parameters through
its generic machinery (cache keys, parameter dicts, one type processor lookup per value); on the webhook hot paths
that cost more than SQLite spends storing the rows. `BulkInsert` compiles the statement once per dialect, keeps the
columns' own bind processors (so values are converted exactly as SQLAlchemy would convert them: UTC datetimes,
JSON, ...), and hands the driver ready tuples through `exec_driver_sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase

Processor = Callable[[Any], Any]


class _Prepared:
    __slots__ = ("keys", "processors", "sql")

    def __init__(self, sql: str, keys: tuple[str, ...], processors: tuple[Processor | None, ...]) -> None:
        self.sql = sql
        self.keys = keys
        self.processors = processors


class BulkInsert:
    def __init__(self, model: type[DeclarativeBase], columns: Sequence[str]) -> None:
        table = cast(Table, model.__table__)
        unknown = set(columns) - set(table.columns.keys())
        if unknown:
            raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
        self.table = table
        self.columns = tuple(columns)
        self._prepared: dict[str, _Prepared] = {}

    def prepare(self, dialect: Dialect) -> _Prepared:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            compiled = self.table.insert().compile(dialect=dialect, column_keys=list(self.columns))
            if compiled.positiontup is None:
                raise ValueError(f"{dialect.name} does not use positional parameters")
            keys = tuple(compiled.positiontup)
            if sorted(keys) != sorted(self.columns):  # a column default SQLAlchemy would fill in per row
                raise ValueError(f"INSERT into {self.table.name} needs exactly the columns {sorted(keys)}")
            processors = tuple(self.table.columns[key].type._cached_bind_processor(dialect) for key in keys)
            prepared = _Prepared(str(compiled), keys, processors)
            self._prepared[dialect.name] = prepared
        return prepared

    def parameters(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in statement order, converted by the column types; every column must be given."""
        prepared = self.prepare(dialect)
        pairs = tuple(zip(prepared.keys, prepared.processors, strict=True))
        return [
            tuple(row[key] if process is None else process(row[key]) for key, process in pairs)
            for row in rows
        ]

    async def execute(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        dialect = connection.dialect
        await connection.exec_driver_sql(self.prepare(dialect).sql, self.parameters(dialect, rows))
