"""Reading bulk files row by row: the same rows whatever the chunk boundaries (quoted newlines in CSV, strings with
brackets and escapes in JSON), row numbers from 1, and broken files refused with the row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.bulk import reading
from gateway.errors import InvalidInput

COLUMNS = frozenset({"number", "label"})
labels = st.text(alphabet=st.sampled_from(list('ab ,"\n\r[]{}\\é:')), max_size=12)


def rows_of(data: bytes, kind: reading.Format, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(reading, "CHUNK", chunk)
    return list(reading.read_rows(io.BytesIO(data), kind, COLUMNS))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["+14155550100", "+442079460018"]), labels), max_size=8),
    st.integers(1, 40),
)
def test_csv_rows_do_not_depend_on_chunk_boundaries(rows: list[tuple[str, str]], chunk: int) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "label"])
    writer.writerows(rows)
    data = out.getvalue().encode()
    with pytest.MonkeyPatch.context() as patch:
        found = rows_of(data, "csv", chunk, patch)
    expected = [
        (i, {k: v for k, v in (("number", number), ("label", label)) if v != ""})
        for i, (number, label) in enumerate(rows, 1)
        if number or label.strip()
    ]
    assert found == expected


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({"number": st.just("+14155550100"), "label": labels}), max_size=8),
    st.integers(1, 40),
    st.sampled_from([None, 0, 2]),
)
def test_json_rows_do_not_depend_on_chunk_boundaries(
    items: list[dict[str, str]], chunk: int, indent: int | None
) -> None:
    data = json.dumps(items, indent=indent).encode()
    with pytest.MonkeyPatch.context() as patch:
        assert rows_of(data, "json", chunk, patch) == list(enumerate(items, 1))


def test_json_numbers_split_by_a_chunk_are_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rows_of(b"[12345, {}]", "json", 3, monkeypatch) == [(1, "is not a JSON object"), (2, {})]


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (b'[{"number": "+1"}, {"number": ', "json", "row 2 is not valid JSON or is cut off"),
        (b'[{"number": "+1"}', "json", "not closed"),
        (b'[{"number": "+1"} {"number": "+2"}]', "json", "expected , or ] after row 1"),
        (b'[{"a": 1}] [', "json", "Nothing may follow"),
        (b'{"number": "+1"}', "json", "must start with ["),
        (b"number,colour\n+1,red\n", "csv", "colour"),
        (b"number,number\n+1,+2\n", "csv", "distinct"),
        (b"\xff\xfe", "csv", "UTF-8"),
    ],
)
def test_broken_files_are_refused(
    data: bytes, kind: reading.Format, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInput) as refused:
        rows_of(data, kind, 5, monkeypatch)
    assert message in refused.value.detail


def test_a_csv_row_with_the_wrong_number_of_values_is_reported_and_reading_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b"number,label\n+1,a,b\n\n+2,c\n"
    assert rows_of(data, "csv", 4, monkeypatch) == [
        (1, "has 3 values for 2 columns"),
        (2, {"number": "+2", "label": "c"}),
    ]


def test_an_empty_body_has_no_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rows_of(b"", "csv", 4, monkeypatch) == []
    assert rows_of(b"", "json", 4, monkeypatch) == []
    assert rows_of(b"\xef\xbb\xbfnumber\n+1\n", "csv", 2, monkeypatch) == [(1, {"number": "+1"})]
