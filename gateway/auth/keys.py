"""API key secrets: `tlk_<key id>_<secret>`; only a SHA-256 of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from gateway.ids import new_id

PREFIX = "tlk"


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"


ROLE_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh key: (key id, the full token shown once, the stored hash)."""
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}_{key_id}_{secret}", hash_secret(secret)


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    prefix, sep, rest = token.partition("_")
    if prefix != PREFIX or not sep:
        return None
    kind, sep, rest = rest.partition("_")
    key_id_tail, sep2, secret = rest.partition("_")
    if kind != "key" or not sep or not sep2 or not key_id_tail or not secret:
        return None
    return f"key_{key_id_tail}", secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
