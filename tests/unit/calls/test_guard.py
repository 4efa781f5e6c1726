"""Toll-fraud guard and per-project rate limit for outbound calls."""

from __future__ import annotations

import pytest

from gateway.calls.guard import RateLimiter, check_destination
from gateway.calls.outbound import deep_merge
from gateway.errors import Forbidden, RateLimited


def test_default_region_only_when_no_countries_are_listed() -> None:
    assert (
        check_destination("+14155550100", allowed_countries=[], default_region="US", allow_high_cost=False)
        == "US"
    )
    with pytest.raises(Forbidden, match="GB"):
        check_destination("+442079460018", allowed_countries=[], default_region="US", allow_high_cost=False)
    assert (
        check_destination(
            "+442079460018", allowed_countries=["GB", "US"], default_region="US", allow_high_cost=False
        )
        == "GB"
    )


@pytest.mark.parametrize(
    "number", ["+19005550100", "+442079460018".replace("20794", "90979"), "+881612345678"]
)
def test_high_cost_destinations_are_refused_by_default(number: str) -> None:
    with pytest.raises(Forbidden, match="high-cost"):
        check_destination(
            number, allowed_countries=["US", "GB", "001"], default_region="US", allow_high_cost=False
        )


def test_high_cost_can_be_allowed() -> None:
    assert check_destination(
        "+19005550100", allowed_countries=["US"], default_region="US", allow_high_cost=True
    )


def test_rate_limit_is_a_token_bucket_per_project() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.take("a", 2.0)
    limiter.take("a", 2.0)
    with pytest.raises(RateLimited) as refused:
        limiter.take("a", 2.0)
    assert refused.value.extra["retry_after"] == pytest.approx(0.5)
    limiter.take("b", 2.0)
    now[0] = 0.5
    limiter.take("a", 2.0)


def test_deep_merge_overrides_nested_values() -> None:
    base = {"tts": {"provider": "x", "voice": "a"}, "instructions": "hi", "tools": ["a"]}
    merged = deep_merge(base, {"tts": {"voice": "b"}, "tools": ["c"]})
    assert merged == {"tts": {"provider": "x", "voice": "b"}, "instructions": "hi", "tools": ["c"]}
    assert base["tts"] == {"provider": "x", "voice": "a"}
