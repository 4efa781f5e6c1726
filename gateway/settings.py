"""Typed settings, read from the environment and an optional `.env` file; one docstring per field."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from gateway.errors import AppError


class SettingsError(AppError):
    title = "Invalid settings"


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(
        default="sqlite+aiosqlite:///./data/trunkline.db", metadata={"env": "DATABASE_URL"}
    )
    """SQLAlchemy URL. SQLite (embedded default) or `postgresql+asyncpg://...`; `postgresql://` is accepted too."""

    host: str = field(default="127.0.0.1", metadata={"env": "TRUNKLINE_HOST"})
    """Interface `trunkline serve` listens on."""

    port: int = field(default=8000, metadata={"env": "TRUNKLINE_PORT"})
    """TCP port `trunkline serve` listens on."""

    public_url: str = field(default="", metadata={"env": "TRUNKLINE_PUBLIC_URL"})
    """The URL carriers reach this gateway at (e.g. https://gw.example.com). Used to build webhook URLs and to
    check carrier signatures behind proxies. Empty: derived from each request (and trusted proxy headers)."""

    trusted_proxies: str = field(
        default="127.0.0.1/32,::1/128", metadata={"env": "TRUNKLINE_TRUSTED_PROXIES"}
    )
    """Comma-separated CIDRs whose X-Forwarded-* / Forwarded headers are believed."""

    flows_dir: str = field(default="./ivr_flows", metadata={"env": "TRUNKLINE_FLOWS_DIR"})
    """Folder of IVR flow files (*.yaml), watched for changes."""

    flows_allow_failing_tests: bool = field(
        default=False, metadata={"env": "TRUNKLINE_FLOWS_ALLOW_FAILING_TESTS"}
    )
    """Serve a new version of a flow even when the flow's own tests (`<flows>/tests/`) fail; by default it is
    held back like a flow with lint errors, and the last good version keeps serving."""

    livekit_url: str = field(default="", metadata={"env": "LIVEKIT_URL"})
    """LiveKit server URL for the default project (http(s):// or ws(s)://). Empty: LiveKit not configured."""

    livekit_api_key: str = field(default="", metadata={"env": "LIVEKIT_API_KEY"})
    """LiveKit API key for the default project."""

    livekit_api_secret: str = field(default="", metadata={"env": "LIVEKIT_API_SECRET"})
    """LiveKit API secret for the default project (never shown by the API)."""

    livekit_sip_uri: str = field(default="", metadata={"env": "LIVEKIT_SIP_URI"})
    """SIP URI of LiveKit SIP (e.g. sip:xxxx.sip.livekit.cloud) that carriers bridge calls to."""

    twilio_account_sid: str = field(default="", metadata={"env": "TWILIO_ACCOUNT_SID"})
    """Twilio AccountSid of the default project."""

    twilio_auth_token: str = field(default="", metadata={"env": "TWILIO_AUTH_TOKEN"})
    """Twilio auth token of the default project (signs webhooks; never shown by the API)."""

    twilio_api_base_url: str = field(default="", metadata={"env": "TWILIO_API_BASE_URL"})
    """Base URL of Twilio's REST API (e.g. https://api.dublin.ie1.twilio.com), for a regional edge or tests.
    Empty: twilio's default (https://api.twilio.com, honouring TWILIO_EDGE / TWILIO_REGION)."""

    session_token_ttl: int = field(default=3600, metadata={"env": "TRUNKLINE_SESSION_TOKEN_TTL"})
    """Lifetime in seconds of LiveKit access tokens handed to web session participants."""

    log_level: str = field(default="INFO", metadata={"env": "TRUNKLINE_LOG_LEVEL"})
    """Python log level name."""

    secret_key: str = field(default="", metadata={"env": "TRUNKLINE_SECRET_KEY"})
    """Fernet key(s) that encrypt stored secrets (carrier tokens, LiveKit secrets, trunk passwords, webhook
    secrets), comma-separated, newest first. Empty: the key file below is used (and created on first start)."""

    secret_key_file: str = field(default="./data/secret.key", metadata={"env": "TRUNKLINE_SECRET_KEY_FILE"})
    """Key file used when TRUNKLINE_SECRET_KEY is unset: one Fernet key a line, newest first; created 0600 with a
    new key on first start. Keep it out of database backups; losing it loses the stored secrets."""

    audit_key: str = field(default="", metadata={"env": "TRUNKLINE_AUDIT_KEY"})
    """HMAC key of the audit chain (at least 32 characters). Empty: the audit key file below."""

    audit_key_file: str = field(default="./data/audit.key", metadata={"env": "TRUNKLINE_AUDIT_KEY_FILE"})
    """Audit HMAC key file used when TRUNKLINE_AUDIT_KEY is unset; created 0600 on first start."""

    audit_checkpoints: str = field(
        default="./data/audit-checkpoints.jsonl", metadata={"env": "TRUNKLINE_AUDIT_CHECKPOINTS"}
    )
    """Append-only file of audit chain heads (one JSON line per change), kept outside the database so that
    `trunkline audit verify` detects records removed from the end of a chain. Ship it to a log store too."""

    outbound_allow: str = field(default="", metadata={"env": "TRUNKLINE_OUTBOUND_ALLOW"})
    """Comma-separated CIDRs and host names that outbound HTTP made for tenants (flow lookups, webhooks) may
    reach although they are private, loopback or link-local (on-premise deployments). Empty: public only."""
    rate_limit_failed_auth: int = field(default=20, metadata={"env": "TRUNKLINE_RATE_LIMIT_FAILED_AUTH"})
    """Failed authentications a client address may make per minute (unknown or revoked API keys on /v1, carrier
    webhooks that fail their signature check); after that its requests get 429 until the minute ends. Shared by
    replicas on PostgreSQL. Behind a proxy, list it in TRUNKLINE_TRUSTED_PROXIES so the limit applies to each client
    (from X-Forwarded-For), not to the proxy. 0: no limit."""

    rate_limit_per_key: int = field(default=300_000, metadata={"env": "TRUNKLINE_RATE_LIMIT_PER_KEY"})
    """Requests one API key may make to /v1 per minute (then 429 until the minute ends); shared by replicas on
    PostgreSQL. 0: no limit."""

    call_retention_days: int = field(default=0, metadata={"env": "TRUNKLINE_CALL_RETENTION_DAYS"})
    """Delete calls (with their events, recordings and transcripts) older than this many days, hourly, in small
    batches. 0: keep calls forever."""
    import_max_body: int = field(default=64 * 1024 * 1024, metadata={"env": "TRUNKLINE_IMPORT_MAX_BODY"})
    """Largest body, in bytes, of a bulk import (`POST /v1/numbers/import`, `POST /v1/routes/import`); larger ones
    are refused with 413 before they are read (by their Content-Length) or as soon as they pass it. The upload is
    spooled to a temporary file, so this bounds disk, not memory: 64 MiB is about a million numbers in CSV."""

    @property
    def async_database_url(self) -> str:
        url = self.database_url
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
             "": False}  # fmt: skip


def load_settings(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Settings from `.env` (if present), overridden by the process environment (or `env` when given)."""
    source = _read_dotenv(dotenv) if dotenv is not None else {}
    source.update(os.environ if env is None else env)
    values: dict[str, object] = {}
    for f in fields(Settings):
        name = f.metadata["env"]
        if name not in source:
            continue
        raw = source[name]
        if f.type == "int":
            try:
                values[f.name] = int(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. 8000.") from None
        elif f.type == "bool":
            if raw.strip().lower() not in _BOOLEANS:
                raise SettingsError(f"{name}={raw!r} is not a yes/no value; set it to 1 or 0.")
            values[f.name] = _BOOLEANS[raw.strip().lower()]
        else:
            values[f.name] = raw
    return Settings(**values)  # type: ignore[arg-type]
