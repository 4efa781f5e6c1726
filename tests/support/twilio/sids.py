"""Twilio resource identifiers: a two-letter type prefix and 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets

SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    """A fresh SID such as `CA` + 32 hex digits (calls), `AC` (accounts), `RE` (recordings), `PN` (numbers)."""
    if not re.fullmatch(r"[A-Z]{2}", prefix):
        raise ValueError(f"a Twilio SID prefix is two capital letters, got {prefix!r}")
    return prefix + secrets.token_hex(16)


def new_call_sid() -> str:
    return new_sid("CA")


def new_account_sid() -> str:
    return new_sid("AC")
