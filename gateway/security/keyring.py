"""Secrets at rest: Fernet keys kept outside the database, newest first (MultiFernet), and the audit HMAC key.

Stored secrets are `fernet:` + a Fernet token; a value without the marker is a plain legacy value (written before
encryption existed) and is re-encrypted at start-up. The keys come from TRUNKLINE_SECRET_KEY (comma-separated,
newest first) or, when that is unset, from a key file created 0600 on first start (TRUNKLINE_SECRET_KEY_FILE).
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.security.keyfiles import read_lines, write_private
from gateway.settings import Settings, SettingsError

MARKER = "fernet:"


class SecretKeyError(SettingsError):
    title = "Secret key problem"


def _fernet(key: str, origin: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except ValueError:
        raise SecretKeyError(
            f"A key in {origin} is not a Fernet key (32 url-safe base64-encoded bytes). Make one with "
            "`trunkline secrets new-key`."
        ) from None


class Keyring:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: list[str], origin: str) -> None:
        if not keys:
            raise SecretKeyError(f"{origin} holds no key.")
        self.keys = tuple(keys)
        self.origin = origin
        self._fernet = MultiFernet([_fernet(k, origin) for k in keys])

    def encrypt(self, plain: str) -> str:
        return MARKER + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not is_encrypted(stored):
            return stored  # legacy plain value, re-encrypted at the next start
        try:
            return self._fernet.decrypt(stored[len(MARKER) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"A stored secret cannot be decrypted with the keys in {self.origin}: the key that encrypted it "
                "is missing. Restore the previous key (newest first, old ones after it) and restart."
            ) from None

    def reencrypt(self, stored: str) -> str:
        """The same secret under the newest key (plain legacy values get encrypted)."""
        return self.encrypt(self.decrypt(stored))


def is_encrypted(stored: str) -> bool:
    return stored.startswith(MARKER)


def new_key() -> str:
    return Fernet.generate_key().decode()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_keyring(settings: Settings) -> Keyring:
    """The keyring from TRUNKLINE_SECRET_KEY, else from the key file (created with a new key when missing)."""
    if settings.secret_key:
        return Keyring(_split(settings.secret_key), "TRUNKLINE_SECRET_KEY")
    path = Path(settings.secret_key_file)
    keys = read_lines(path)
    if not keys:
        keys = [new_key()]
        write_private(path, keys[0] + "\n")
    return Keyring(keys, str(path))


def add_file_key(settings: Settings) -> Keyring:
    """Rotation, step one: a new key first in the key file, the old ones kept after it to decrypt."""
    current = load_keyring(settings)
    keys = [new_key(), *current.keys]
    write_private(Path(settings.secret_key_file), "\n".join(keys) + "\n")
    return Keyring(keys, current.origin)


def drop_old_file_keys(settings: Settings) -> None:
    """Rotation, last step (every row re-encrypted): only the newest key stays in the key file."""
    current = load_keyring(settings)
    write_private(Path(settings.secret_key_file), current.keys[0] + "\n")


def load_audit_key(settings: Settings) -> bytes:
    """The audit chain's HMAC key: TRUNKLINE_AUDIT_KEY, else the audit key file (created when missing).

    It is separate from the secret keys so that rotating those never invalidates the audit trail."""
    if settings.audit_key:
        if len(settings.audit_key) < 32:
            raise SecretKeyError("TRUNKLINE_AUDIT_KEY must be at least 32 characters; use a random string.")
        return settings.audit_key.encode()
    path = Path(settings.audit_key_file)
    lines = read_lines(path)
    if not lines:
        lines = [secrets.token_urlsafe(48)]
        write_private(path, lines[0] + "\n")
    return lines[0].encode()


class EngineKeys:
    """What an engine needs beside its URL: the secret keyring, the audit HMAC key, the checkpoint file.

    Keys are read (and key files created) on first use, so an engine that never touches a secret or the audit
    log never needs them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.checkpoints = Path(settings.audit_checkpoints)

    @cached_property
    def keyring(self) -> Keyring:
        return load_keyring(self._settings)

    @cached_property
    def audit_key(self) -> bytes:
        return load_audit_key(self._settings)


def load_engine_keys(settings: Settings) -> EngineKeys:
    return EngineKeys(settings)
