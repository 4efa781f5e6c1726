from __future__ import annotations

import pytest

from routing.numbers import InvalidNumber, caller_region, is_canonical_e164, is_withheld, mask, normalize


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+442079460000", None, "+442079460000"),
        ("+44 20 7946 0000", None, "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("00442079460000", "FR", "+442079460000"),
        ("011 44 20 7946 0000", "US", "+442079460000"),
        ("sip:+442079460000@carrier.example;user=phone", None, "+442079460000"),
        ("<sip:02079460000@10.0.0.1>", "GB", "+442079460000"),
    ],
)
def test_normalize_accepts_national_and_international_formats(
    raw: str, region: str | None, e164: str
) -> None:
    assert normalize(raw, region).e164 == e164


def test_normalize_keeps_the_extension_apart() -> None:
    number = normalize("+44 20 7946 0000 ext. 123", None)
    assert (number.e164, number.extension) == ("+442079460000", "123")
    assert normalize("+442079460000", None).extension is None


def test_normalize_reports_the_region() -> None:
    assert normalize("+15147654321", None).region == "CA"
    assert normalize("+80012345678", None).region is None


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("hello", "GB", "NOT_A_NUMBER"),
        ("", "GB", "NOT_A_NUMBER"),
        ("+4420", None, "TOO_SHORT"),
        ("+44 20 7946 00001111", None, "TOO_LONG"),
        ("+999123456", None, "INVALID_COUNTRY_CODE"),
        ("0207946000", None, "INVALID_COUNTRY_CODE"),
        ("+15555550100", None, "NOT_VALID"),
    ],
)
def test_normalize_raises_a_typed_error_with_the_phonenumbers_reason(
    raw: str, region: str | None, reason: str
) -> None:
    with pytest.raises(InvalidNumber) as error:
        normalize(raw, region)
    assert error.value.reason == reason


def test_invalid_number_never_carries_the_raw_number() -> None:
    with pytest.raises(InvalidNumber) as error:
        normalize("+15555550100", None)
    assert "5555550100" not in str(error.value)
    assert error.value.raw_masked == "+1********00"


@pytest.mark.parametrize(
    "raw",
    ["", "anonymous", "Anonymous", "RESTRICTED", "unknown", "+266696687", "sip:anonymous@anonymous.invalid"],
)
def test_withheld_caller_ids_are_recognised(raw: str) -> None:
    assert is_withheld(raw)


@pytest.mark.parametrize("raw", ["+442079460000", "02079460000", "sip:+442079460000@host", "+2666966870"])
def test_real_numbers_are_not_withheld(raw: str) -> None:
    assert not is_withheld(raw)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+442079460000", "+44********00"),
        ("+12015550123", "+1********23"),
        ("+35312345678", "+353******78"),
        ("02079460000", "*********00"),
        ("12", "**"),
    ],
)
def test_mask_keeps_country_code_and_last_two_digits(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_canonical_e164_needs_no_parsing() -> None:
    assert is_canonical_e164("+442079460000")
    assert not is_canonical_e164("+44 20 7946 0000")
    assert not is_canonical_e164("02079460000")
    assert not is_canonical_e164("+0442079460000")


def test_caller_region_resolves_shared_calling_codes() -> None:
    assert caller_region("+15147654321") == "CA"
    assert caller_region("+12015550123") == "US"
    assert caller_region("+33612345678") == "FR"
    assert caller_region("+80012345678") is None
