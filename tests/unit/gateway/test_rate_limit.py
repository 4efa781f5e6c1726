"""The request limiter's windows, refusals and client addresses, on its in-memory counter and a settable clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import RateLimited
from gateway.web.rate_limit import WINDOW, MemoryCounter, RequestLimiter


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_key_is_refused_from_its_limit_to_the_end_of_the_window() -> None:
    clock = Clock(10 * WINDOW + 15.0)
    limiter = RequestLimiter(MemoryCounter(), failed_auth=3, per_key=0, clock=clock)
    assert [asyncio.run(limiter.count("failed:a", 3)) for _ in range(3)] == [False, False, True]
    limiter.refuse_if_blocked("failed:b", "why")  # others are not refused
    with pytest.raises(RateLimited) as refused:
        limiter.refuse_if_blocked("failed:a", "Too many")
    assert refused.value.extra["retry_after"] == pytest.approx(WINDOW - 15.0)
    assert refused.value.detail == "Too many; retry in 45 s."
    clock.now = 11 * WINDOW  # a new window: counting starts again
    limiter.refuse_if_blocked("failed:a", "why")
    assert asyncio.run(limiter.count("failed:a", 3)) is False


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", [b"198.51.100.1"], "203.0.113.5"),  # an untrusted peer's header is not believed
        ("127.0.0.1", [b"198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", [b"198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # the proxies' own hops are skipped
        ("127.0.0.1", [b"forged, 198.51.100.1"], "198.51.100.1"),  # the client's own claims are not
        ("127.0.0.1", [], "127.0.0.1"),
    ],
)
def test_the_client_address_is_the_peer_or_what_a_trusted_proxy_forwarded(
    peer: str, forwarded: list[bytes], expected: str
) -> None:
    limiter = RequestLimiter(
        MemoryCounter(), failed_auth=1, per_key=1, trusted_proxies="127.0.0.1/32,10.0.0.0/8"
    )
    scope: Any = {"client": (peer, 5000), "headers": [(b"x-forwarded-for", v) for v in forwarded]}
    assert limiter.client_address(scope) == expected
