"""Reading a bulk file: the upload spooled to a temporary file (capped, so memory stays small and no database
transaction waits on a slow client), then read back one row at a time, as CSV with a header row or as a JSON
array of objects.

Rows are numbered from 1: the first data row (CSV: the line after the header) or the array's first element.
"""

from __future__ import annotations

import codecs
import csv
import json
import tempfile
from collections.abc import AsyncIterable, Iterator
from typing import IO, Any, Literal

from gateway.errors import AppError, InvalidInput

__all__ = [
    "CHUNK",
    "Format",
    "PayloadTooLarge",
    "Row",
    "format_of",
    "read_rows",
    "refuse_declared_size",
    "spool",
]

Format = Literal["csv", "json"]
CHUNK = 256 * 1024
MAX_ROW_CHARS = 1024 * 1024
"""A JSON element or CSV record longer than this is refused (a broken file, not a row)."""

Row = tuple[int, dict[str, Any] | str]
"""(row number, the row's fields) or (row number, why the row could not be read)."""


class PayloadTooLarge(AppError):
    status_code = 413
    title = "Request body too large"


def format_of(content_type: str | None) -> Format:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind == "application/json":
        return "json"
    raise InvalidInput(
        f"Content-Type {kind or '(none)'!r} is not an import format: send text/csv (a header row, then one row "
        "per line) or application/json (an array of objects).",
        field="content-type",
    )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Imports read at most {limit} bytes per request; nothing was read or changed. Split the file into "
        "several imports (each is all-or-nothing), or raise TRUNKLINE_IMPORT_MAX_BODY.",
        extra={"limit": limit},
    )


def refuse_declared_size(content_length: str | None, limit: int) -> None:
    """Refuse at once a body whose Content-Length is over `limit`, before reading any of it."""
    if content_length is not None and content_length.strip().isdigit() and int(content_length) > limit:
        raise _too_large(limit)


async def spool(chunks: AsyncIterable[bytes], limit: int) -> IO[bytes]:
    """The body in a temporary file (in memory while small), rewound; refused as soon as it passes `limit`."""
    file = tempfile.SpooledTemporaryFile(max_size=CHUNK)  # noqa: SIM115 - the caller closes it
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


def read_rows(file: IO[bytes], kind: Format, columns: frozenset[str]) -> Iterator[Row]:
    """The rows of `file`; `columns` are the CSV columns the caller knows (others refuse the file)."""
    text = _text_chunks(file)
    return _csv_rows(text, columns) if kind == "csv" else _json_rows(text)


def _text_chunks(file: IO[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    while True:
        chunk = file.read(CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise InvalidInput("The file is not UTF-8 text; save it as UTF-8 and send it again.") from None
        if text:
            yield text
        if not chunk:
            return


def _records(text: Iterator[str]) -> Iterator[str]:
    """CSV records: lines, except that a newline inside a quoted field does not end one."""
    pending = ""
    quotes = 0
    for chunk in text:
        start = 0
        while True:
            end = chunk.find("\n", start)
            if end < 0:
                pending += chunk[start:]
                quotes += chunk.count('"', start)
                if len(pending) > MAX_ROW_CHARS:
                    raise InvalidInput(
                        f"A CSV row is longer than {MAX_ROW_CHARS} characters (an unclosed quote?)."
                    )
                break
            piece = chunk[start : end + 1]
            quotes += piece.count('"')
            pending += piece
            start = end + 1
            if quotes % 2 == 0:
                yield pending
                pending, quotes = "", 0
    if pending.strip():
        yield pending


def _csv_rows(text: Iterator[str], columns: frozenset[str]) -> Iterator[Row]:
    records = _records(text)
    reader = csv.reader(records, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidInput(f"The CSV header row cannot be read ({exc}).") from None
    unknown = [name for name in header if name not in columns]
    if unknown or len(set(header)) != len(header):
        raise InvalidInput(
            f"CSV header: columns must be distinct and among {', '.join(sorted(columns))}; got "
            f"{', '.join(header)}. Fix the first line and send the file again.",
            field="header",
        )
    number = 0
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, f"not a readable CSV row ({exc})"
            continue
        if not any(value.strip() for value in values):
            number -= 1  # blank lines are not rows
            continue
        if len(values) != len(header):
            yield number, f"has {len(values)} values for {len(header)} columns"
            continue
        yield number, {name: value for name, value in zip(header, values, strict=True) if value != ""}


_decoder = json.JSONDecoder()
_SPACE = " \t\r\n"


def _json_rows(text: Iterator[str]) -> Iterator[Row]:
    """Elements of a top-level JSON array, decoded one at a time."""
    buffer, position, number = "", 0, 0
    opened = closed = False
    for chunk in text:
        buffer = buffer[position:] + chunk
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in _SPACE:
                position += 1
            if position >= len(buffer):
                break
            if not opened:
                if buffer[position] != "[":
                    raise InvalidInput("A JSON import is one array of objects: the body must start with [.")
                opened, position = True, position + 1
                continue
            if closed:
                raise InvalidInput("Nothing may follow the JSON array's closing ].")
            if buffer[position] == "]":
                closed, position = True, position + 1
                continue
            if number > 0:
                if buffer[position] != ",":
                    raise InvalidInput(f"JSON row {number + 1}: expected , or ] after row {number}.")
                start = position + 1
                while start < len(buffer) and buffer[start] in _SPACE:
                    start += 1
                if start >= len(buffer):
                    break
            else:
                start = position
            try:
                value, end = _decoder.raw_decode(buffer, start)
            except json.JSONDecodeError as exc:
                if len(buffer) - start > MAX_ROW_CHARS:
                    raise InvalidInput(f"JSON row {number + 1} is not valid JSON ({exc.msg}).") from None
                break  # possibly cut by the chunk: read more
            if end == len(buffer) and not isinstance(value, dict | list | str):
                break  # a number may go on in the next chunk
            number += 1
            position = end
            yield (number, value) if isinstance(value, dict) else (number, "is not a JSON object")
    if not opened:
        return
    if not closed:
        rest = buffer[position:].strip()
        if rest:
            raise InvalidInput(f"JSON row {number + 1} is not valid JSON or is cut off.")
        raise InvalidInput("The JSON array is not closed: the file is cut off.")
