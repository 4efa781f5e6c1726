"""Toll-fraud guard and per-project rate limit for outbound calls."""

from __future__ import annotations

import asyncio

import pytest

from gateway.calls.guard import CallRateLimit, DestinationPolicy, DestinationRefused, check_destination
from gateway.calls.outbound import deep_merge
from gateway.errors import Forbidden, RateLimited
from gateway.web.rate_limit import MemoryCounter


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


def test_calls_per_second_per_project() -> None:
    now = [1000.5]
    limiter = CallRateLimit(MemoryCounter().hit, clock=lambda: now[0])

    async def scenario() -> None:
        await limiter.take("a", 2.0)
        await limiter.take("a", 2.0)
        with pytest.raises(RateLimited) as refused:
            await limiter.take("a", 2.0)
        assert refused.value.extra["retry_after"] == pytest.approx(0.5)
        await limiter.take("b", 2.0)
        now[0] = 1001.0
        await limiter.take("a", 2.0)
        await limiter.take("slow", 0.5)  # one call per two-second window
        now[0] = 1001.9
        with pytest.raises(RateLimited):
            await limiter.take("slow", 0.5)
        now[0] = 1002.0
        await limiter.take("slow", 0.5)

    asyncio.run(scenario())


def test_deep_merge_overrides_nested_values() -> None:
    base = {"tts": {"provider": "x", "voice": "a"}, "instructions": "hi", "tools": ["a"]}
    merged = deep_merge(base, {"tts": {"voice": "b"}, "tools": ["c"]})
    assert merged == {"tts": {"provider": "x", "voice": "b"}, "instructions": "hi", "tools": ["c"]}
    assert base["tts"] == {"provider": "x", "voice": "a"}


US_ONLY = DestinationPolicy(default_region="US", allowed_sip_hosts=("pbx.example.com", "*.carrier.example"))


@pytest.mark.parametrize(
    ("destination", "why"),
    [
        ("+19005550100", "premium-rate"),
        ("+870776123456", "satellite"),
        ("+5372123456", "CU"),
        ("tel:+442079460018", "GB"),
        ("sip:+88234000000@203.0.113.9", "203.0.113.9"),
        ("sip:desk@evil.example.com", "evil.example.com"),
        ("sip:desk@carrier.example", "carrier.example"),
        ("sip:+19005550100@pbx.example.com", "premium-rate"),
        ("sips:19005550100@pbx.example.com:5061;transport=tls", "premium-rate"),
        ("sip:pbx.example.com", "sip:user@host"),
    ],
)
def test_every_way_out_is_refused_where_the_project_may_not_call(destination: str, why: str) -> None:
    with pytest.raises(DestinationRefused, match=why):
        US_ONLY.check(destination, field="target.number")


@pytest.mark.parametrize(
    "destination",
    [
        "+14155550100",
        "tel:+14155550100",
        "sip:desk@pbx.example.com",
        "sip:desk@PBX.example.com:5060",
        "sip:queue@east.carrier.example;transport=tcp",
        "sip:+14155550100@pbx.example.com",
    ],
)
def test_allowed_destinations_pass(destination: str) -> None:
    assert US_ONLY.check(destination) == destination.removeprefix("tel:")


def test_the_policy_comes_from_the_project_settings() -> None:
    policy = DestinationPolicy.of(
        {
            "allowed_destination_countries": ["GB"],
            "allow_high_cost": True,
            "allowed_sip_hosts": ["PBX.Example.com"],
        },
        "US",
    )
    assert policy.check("+442079460018") == "+442079460018"
    assert policy.check("sip:a@pbx.example.com") == "sip:a@pbx.example.com"
    with pytest.raises(DestinationRefused, match="US"):
        policy.check("+14155550100")  # countries listed: the default region is no longer implied
