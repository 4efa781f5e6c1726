"""Time-ordered, prefixed object ids (`num_01HV...`): sortable, so list endpoints page by id."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
"""Every 10-bit value as two characters: an id is 13 lookups instead of 26 divisions."""
_SHIFTS = tuple(range(120, -1, -10))


def ulid(millis: int, rand: int) -> str:
    """26 characters of Crockford base32: 48 bits of milliseconds, then 80 random bits (the ULID layout)."""
    value = millis << 80 | rand
    return "".join([_PAIRS[value >> shift & 1023] for shift in _SHIFTS])


def new_id(prefix: str) -> str:
    """A ULID behind `prefix_`: ids made later sort later."""
    return prefix + "_" + ulid(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))
