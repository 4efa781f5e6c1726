"""Checking Twilio's `X-Twilio-Signature`, and rebuilding the URL Twilio signed. Pure: no I/O, no settings lookup.

Twilio signs the full URL it requested (scheme, host, path, query) followed by every POST parameter, sorted by name,
as name+value, with HMAC-SHA1 keyed by the account's auth token, base64-encoded. JSON bodies are covered by a
`bodySHA256` query parameter (hex SHA-256 of the raw body) in the signed URL. Webhooks signed with a SharedKey carry
`X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=HMAC_SHA1|HMAC_SHA256`; the signature stays in
`X-Twilio-Signature`, keyed by that shared key's secret. (Twilio documents no `X-Twilio-Signature-256` header.)

The comparison itself is twilio's `RequestValidator`, which already tries each URL with and without the default port,
since Twilio's own signing is inconsistent about it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
from collections.abc import Iterator, Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

import msgspec
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_VALIDATOR_TAKES_ALGORITHM = "algorithm" in inspect.signature(RequestValidator.validate).parameters

Network = IPv4Network | IPv6Network
ParamValue = str | Sequence[str]


class SignatureCheck(msgspec.Struct, frozen=True):
    ok: bool
    reason: str
    """Why the check failed (or `valid`), fit for a log line."""
    url: str | None = None
    """The URL whose signature matched."""


class RequestOrigin(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of an incoming request that decide which URL Twilio requested."""

    scheme: str
    host: str
    """The Host header as received (may carry a port)."""
    path: str
    """The path exactly as on the wire, still percent-encoded (ASGI `raw_path`)."""
    query: str = ""
    """The raw query string, without `?`."""
    peer: str | None = None
    """IP address of the TCP peer (the proxy, when there is one)."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    """Request headers; only Forwarded and X-Forwarded-* are read, case-insensitively."""


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    """`TRUNKLINE_TRUSTED_PROXIES` (comma-separated CIDRs or addresses) as networks."""
    networks = []
    for item in text.split(","):
        if item.strip():
            try:
                networks.append(ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{item.strip()!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def public_url(
    request: RequestOrigin, *, public_base_url: str = "", trusted_proxies: Sequence[Network] = ()
) -> str:
    """The URL Twilio requested, as Twilio wrote it when signing.

    With `public_base_url` (e.g. `https://gw.example.com/prefix`) the URL is that base + the request path + query;
    the base's path is not repeated when the request path already starts with it. Otherwise the scheme and host come
    from Forwarded / X-Forwarded-Proto, -Host, -Port when the peer is a trusted proxy, else from the request itself.
    """
    if public_base_url:
        base = _split_base(public_base_url)
        prefix = base.path
        already_prefixed = prefix and (request.path == prefix or request.path.startswith(prefix + "/"))
        path = request.path if already_prefixed else prefix + request.path
        return urlunsplit((base.scheme, base.netloc, path, request.query, ""))
    scheme, host = request.scheme, request.host
    if _is_trusted(request.peer, trusted_proxies):
        scheme, host = _forwarded_origin(request.headers, scheme, host)
    return urlunsplit((scheme, host, request.path, request.query, ""))


@functools.lru_cache(maxsize=64)
def _split_base(public_base_url: str) -> SplitResult:
    """The configured public URL, split once (it is the same for every webhook)."""
    return urlsplit(public_base_url.rstrip("/"))


def verify(
    *,
    url_candidates: str | Sequence[str],
    params: Mapping[str, ParamValue],
    raw_body: bytes,
    content_type: str | None,
    signature: str | None,
    auth_token: str,
    signature_settings: str | None = None,
    shared_keys: Mapping[str, str] | None = None,
) -> SignatureCheck:
    """Check a webhook's signature against each candidate URL.

    `params` are the POST form fields: `{}` for a GET (its query is part of the URL) and ignored for JSON bodies,
    whose `raw_body` is checked against the URL's `bodySHA256`.
    `signature_settings` is the X-Twilio-Webhooks-Signature-Settings header; `shared_keys` maps SharedKey ids to
    their secrets.
    """
    urls = (url_candidates,) if isinstance(url_candidates, str) else tuple(url_candidates)
    if not urls:
        raise ValueError("verify() needs at least one URL candidate")
    if not signature:
        return SignatureCheck(False, f"missing {SIGNATURE_HEADER}")
    settings = _parse_settings(signature_settings or "")
    algorithm = settings.get("algorithm", HMAC_SHA1).upper()
    if algorithm not in (HMAC_SHA1, HMAC_SHA256):
        return SignatureCheck(
            False, f"unsupported signature algorithm {algorithm!r} in {SIGNATURE_SETTINGS_HEADER}"
        )
    if algorithm != HMAC_SHA1 and not _VALIDATOR_TAKES_ALGORITHM:
        return SignatureCheck(False, f"{algorithm} signatures need twilio>=9.13; upgrade the twilio package")
    secret = auth_token
    if "key" in settings:
        secret = (shared_keys or {}).get(settings["key"], "")
        if not secret:
            return SignatureCheck(
                False, f"signed with shared key {settings['key']!r}, which is not configured"
            )
    if not secret:
        return SignatureCheck(False, f"no auth token configured to check {SIGNATURE_HEADER}")

    payload: str | _MultiParams
    if _is_json(content_type):
        urls = tuple(url for url in urls if "bodySHA256" in parse_qs(urlsplit(url).query))
        if not urls:
            return SignatureCheck(False, "JSON body but no bodySHA256 query parameter in the URL")
        try:
            payload = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            return SignatureCheck(False, "JSON body is not UTF-8")
    else:
        payload = _MultiParams(params)
    validator = RequestValidator(secret)
    extra = {"algorithm": algorithm} if algorithm != HMAC_SHA1 else {}
    if isinstance(payload, _MultiParams) and hmac.compare_digest(
        validator.compute_signature(urls[0], payload, **extra), signature
    ):
        # The URL exactly as rebuilt is what Twilio signs almost always: one HMAC instead of validate()'s two
        # (with and without the default port), and validate() would accept it too.
        return SignatureCheck(True, "valid", urls[0])
    for url in urls:
        if validator.validate(url, payload, signature, **extra):
            return SignatureCheck(True, "valid", url)
    return SignatureCheck(False, _mismatch_reason(urls, raw_body, json_body=isinstance(payload, str)))


def _mismatch_reason(urls: Sequence[str], raw_body: bytes, *, json_body: bool) -> str:
    if json_body:
        expected = parse_qs(urlsplit(urls[0]).query)["bodySHA256"]
        if hashlib.sha256(raw_body).hexdigest() != expected[0]:
            return "bodySHA256 mismatch: the body is not the one Twilio signed"
    others = (
        f" (and {len(urls) - 1} other candidate URL{'s' if len(urls) > 2 else ''})" if len(urls) > 1 else ""
    )
    return f"signature mismatch for URL {urls[0]}{others}"


class _MultiParams:
    """Form fields in the shape RequestValidator reads repeated parameters from (`getall`)."""

    def __init__(self, params: Mapping[str, ParamValue]) -> None:
        self._params = params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def getall(self, name: str) -> list[str]:
        value = self._params[name]
        return [value] if value.__class__ is str else list(value)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _parse_settings(header: str) -> dict[str, str]:
    settings = {}
    for part in header.split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() and value.strip():
            settings[name.strip().lower()] = value.strip()
    return settings


def _is_trusted(peer: str | None, trusted_proxies: Sequence[Network]) -> bool:
    if not peer or not trusted_proxies:
        return False
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted_proxies)


def _forwarded_origin(headers: Mapping[str, str], scheme: str, host: str) -> tuple[str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    forwarded = _first_forwarded_element(lowered.get("forwarded", ""))
    if forwarded:
        return forwarded.get("proto", scheme).lower(), forwarded.get("host", host)
    scheme = (_first_value(lowered.get("x-forwarded-proto")) or scheme).lower()
    host = _first_value(lowered.get("x-forwarded-host")) or host
    port = _first_value(lowered.get("x-forwarded-port"))
    if port and not _has_port(host) and port != {"https": "443", "http": "80"}.get(scheme):
        host = f"{host}:{port}"
    return scheme, host


def _first_value(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(",")[0].strip() or None


def _first_forwarded_element(header: str) -> dict[str, str]:
    """The first element of an RFC 7239 Forwarded header: the one the proxy nearest to Twilio added."""
    element = header.split(",")[0]
    pairs = {}
    for pair in element.split(";"):
        name, separator, value = pair.partition("=")
        if separator:
            pairs[name.strip().lower()] = value.strip().strip('"')
    return pairs


def _has_port(host: str) -> bool:
    return host.rpartition("]")[2].count(":") == 1 if host.startswith("[") else host.count(":") == 1
