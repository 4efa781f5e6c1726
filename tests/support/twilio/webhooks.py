"""How Twilio delivers a webhook: signed form parameters, connection overrides, retries.

Per Twilio's "Webhook connection overrides", a URL fragment such as `#rc=2&rp=5xx,rt&rt=2000` tunes delivery:
ct (connect timeout, ms, default 5000), rt (read timeout, default 15000), tt (total time, default 15000),
rc (retry count, default 1) and rp (retry policy: 4xx, 5xx, ct, rt or all; default ct). The fragment is never sent
nor signed. Retries repeat the same request: same URL, same body, same signature, same I-Twilio-Idempotency-Token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urldefrag, urlencode

import httpx
from twilio.request_validator import RequestValidator

Pairs = tuple[tuple[str, str], ...]
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class ConnectionOverrides:
    connect_timeout_ms: int = 5000
    read_timeout_ms: int = 15000
    total_timeout_ms: int = 15000
    retry_count: int = 1
    retry_policy: frozenset[str] = frozenset({"ct"})

    def merged(self, fragment: str) -> ConnectionOverrides:
        """These overrides with a URL fragment's (`rc=2&rp=5xx,ct`) applied on top."""
        result = self
        for pair in fragment.split("&"):
            name, _, value = pair.partition("=")
            if not value:
                continue
            if name == "ct":
                result = replace(result, connect_timeout_ms=_clamp(value, 100, 10000))
            elif name == "rt":
                result = replace(result, read_timeout_ms=_clamp(value, 100, 15000))
            elif name == "tt":
                result = replace(result, total_timeout_ms=_clamp(value, 100, 15000))
            elif name == "rc":
                result = replace(result, retry_count=_clamp(value, 0, 5))
            elif name == "rp":
                result = replace(result, retry_policy=frozenset(value.split(",")))
        return result

    def retries_on(self, failure: str) -> bool:
        return "all" in self.retry_policy or failure in self.retry_policy


def _clamp(value: str, low: int, high: int) -> int:
    return max(low, min(high, int(value)))


class _MultiParams:
    """Repeated parameters in the shape RequestValidator.compute_signature reads (`getall`)."""

    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def as_pairs(params: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]) -> Pairs:
    if isinstance(params, Mapping):
        return tuple(
            (name, item)
            for name, value in params.items()
            for item in ([value] if isinstance(value, str) else value)
        )
    return tuple(params)


def sign(url: str, params: Pairs, auth_token: str) -> str:
    """X-Twilio-Signature for a request to `url` (without fragment) carrying form `params`, computed by twilio."""
    return str(RequestValidator(auth_token).compute_signature(url, _MultiParams(params)))


@dataclass(frozen=True)
class Attempt:
    """One HTTP request Twilio made, as sent."""

    method: str
    url: str
    params: Pairs
    headers: dict[str, str]
    status: int | None
    failure: str | None
    """ct (could not connect), rt (no answer in time), 4xx, 5xx or None."""


@dataclass
class Delivery:
    """A webhook and every attempt made to deliver it."""

    url: str
    attempts: list[Attempt] = field(default_factory=list)
    response: httpx.Response | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and 200 <= self.response.status_code < 300

    @property
    def error_code(self) -> int | None:
        """Twilio's debugger code for a failed delivery: 11205 connection failure, 11200 anything else."""
        if self.ok:
            return None
        return 11205 if self.attempts and self.attempts[-1].failure == "ct" else 11200


class WebhookSender:
    """Sends signed webhooks over real HTTP, retrying as Twilio does; `attempts` logs every request made."""

    def __init__(self, auth_token: str, client: httpx.AsyncClient, *, overrides: str = "") -> None:
        self.auth_token = auth_token
        self.client = client
        self.defaults = ConnectionOverrides().merged(overrides)
        self.attempts: list[Attempt] = []

    async def send(
        self,
        url: str,
        params: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]],
        *,
        method: str = "POST",
    ) -> Delivery:
        target, fragment = urldefrag(url)
        overrides = self.defaults.merged(fragment)
        pairs = as_pairs(params)
        if method.upper() == "GET":
            target = f"{target}{'&' if '?' in target else '?'}{urlencode(pairs)}" if pairs else target
            body_pairs: Pairs = ()
        else:
            body_pairs = pairs
        headers = {
            "X-Twilio-Signature": sign(target, body_pairs, self.auth_token),
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": USER_AGENT,
        }
        if method.upper() != "GET":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        delivery = Delivery(url=target)
        deadline = time.monotonic() + overrides.total_timeout_ms / 1000
        timeout = httpx.Timeout(
            connect=overrides.connect_timeout_ms / 1000,
            read=overrides.read_timeout_ms / 1000,
            write=overrides.read_timeout_ms / 1000,
            pool=overrides.connect_timeout_ms / 1000,
        )
        for attempt in range(overrides.retry_count + 1):
            status, failure, response = await self._attempt(
                method.upper(), target, body_pairs, headers, timeout
            )
            record = Attempt(method.upper(), target, pairs, dict(headers), status, failure)
            delivery.attempts.append(record)
            self.attempts.append(record)
            delivery.response = response
            out_of_time = time.monotonic() >= deadline
            if (
                failure is None
                or not overrides.retries_on(failure)
                or out_of_time
                or attempt == overrides.retry_count
            ):
                break
        return delivery

    async def _attempt(
        self, method: str, url: str, pairs: Pairs, headers: dict[str, str], limits: httpx.Timeout
    ) -> tuple[int | None, str | None, httpx.Response | None]:
        try:
            response = await self.client.request(
                method, url, content=urlencode(pairs) if pairs else None, headers=headers, timeout=limits
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            return None, "ct", None
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError):
            return None, "rt", None
        status = response.status_code
        failure = "5xx" if status >= 500 else "4xx" if status >= 400 else None
        return status, failure, response
