"""Object ids: ULID layout (48-bit milliseconds, then 80 random bits) in Crockford base32, so ids sort by time."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from gateway.ids import new_id, ulid

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference(millis: int, rand: int) -> str:
    """The ULID spec's encoding: one character per 5 bits, most significant first (the first has 3 bits)."""
    value = millis << 80 | rand
    return "".join(CROCKFORD[(value >> (5 * (25 - i))) & 31] for i in range(26))


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_an_id_is_the_ulid_encoding_of_its_time_and_random_bits(millis: int, rand: int) -> None:
    assert ulid(millis, rand) == _reference(millis, rand)


def test_ulid_orders_by_time_first() -> None:
    assert ulid(1, 0) > ulid(0, 2**80 - 1)
    assert ulid(2**48 - 1, 2**80 - 1) == "7" + "Z" * 25


def test_ids_made_later_sort_later() -> None:
    first = new_id("num")
    time.sleep(0.002)
    second = new_id("num")
    assert first < second
    assert first.startswith("num_")
    assert len(first) == len("num_") + 26
    assert set(first[4:]) <= set(CROCKFORD)
