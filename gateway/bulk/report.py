"""What an import answers: how many rows it wrote, or every refused row with its number and reason."""

from __future__ import annotations

import msgspec

from gateway.errors import InvalidInput

__all__ = ["MAX_REPORTED", "ImportResult", "Refusals", "RefusedRow"]

MAX_REPORTED = 10_000
"""Refused rows listed in one answer; the count covers them all."""


class RefusedRow(msgspec.Struct, frozen=True, omit_defaults=True):
    row: int
    """1 for the first data row (CSV: the line after the header; JSON: the array's first element)."""
    reason: str
    field: str | None = None


class ImportResult(msgspec.Struct, frozen=True):
    imported: int
    """Rows written (all of the file's rows: an import is all-or-nothing)."""
    warnings: list[str] = msgspec.field(default_factory=list)
    """Problems that did not block the import (the first 100), e.g. routes that can never win."""
    warning_count: int = 0


class Refusals:
    def __init__(self) -> None:
        self.rows: list[RefusedRow] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, row: int, reason: str, field: str | None = None) -> None:
        self.count += 1
        if len(self.rows) < MAX_REPORTED:
            self.rows.append(RefusedRow(row=row, reason=reason, field=field))

    def raise_if_any(self, total: int, what: str) -> None:
        if not self.count:
            return
        listed = "" if self.count <= MAX_REPORTED else f" (the first {MAX_REPORTED} are listed)"
        first = self.rows[0]
        raise InvalidInput(
            f"{self.count} of {total} rows were refused{listed}, so no {what} was imported: fix the rows listed in "
            f"`refused` and send the whole file again. First: row {first.row}: {first.reason}",
            field=first.field,
            extra={"refused": [msgspec.to_builtins(row) for row in self.rows], "refused_count": self.count},
        )
