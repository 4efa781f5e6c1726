"""Phone numbers: normalisation to E.164 through phonenumbers, withheld caller ids, masking for logs."""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec
import phonenumbers

__all__ = [
    "E164Number",
    "InvalidNumber",
    "caller_region",
    "country_code_of",
    "example_e164",
    "is_canonical_e164",
    "is_plausible_e164",
    "is_withheld",
    "mask",
    "normalize",
    "regions_where_valid",
    "sip_user_part",
]

_CANONICAL_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SIP_URI = re.compile(r"^<?sips?:(?P<user>[^@;>]*)(@[^>]*)?>?$", re.IGNORECASE)

WITHHELD_WORDS = frozenset({"", "anonymous", "restricted", "unknown", "private", "unavailable", "withheld"})
WITHHELD_NUMBERS = frozenset(
    {
        "+266696687",  # Twilio: ANONYMOUS
        "+7378742833",  # Twilio: RESTRICTED
        "+2562533",  # Twilio: BLOCKED
        "+8656696",  # Twilio: UNKNOWN
        "+86282452253",  # Twilio: UNAVAILABLE
    }
)

_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "NOT_A_NUMBER",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "TOO_SHORT_AFTER_IDD",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "TOO_SHORT_NSN",
    phonenumbers.NumberParseException.TOO_LONG: "TOO_LONG",
}
_NOT_POSSIBLE = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
    phonenumbers.ValidationResult.TOO_SHORT: "TOO_SHORT",
    phonenumbers.ValidationResult.TOO_LONG: "TOO_LONG",
    phonenumbers.ValidationResult.INVALID_LENGTH: "INVALID_LENGTH",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "IS_POSSIBLE_LOCAL_ONLY",
}


class E164Number(msgspec.Struct, frozen=True, kw_only=True):
    e164: str
    extension: str | None = None
    region: str | None = None
    """ISO region the number belongs to (None for non-geographic numbers such as +800)."""


class InvalidNumber(ValueError):
    """A number that cannot be used; `reason` is a phonenumbers code (NOT_A_NUMBER, TOO_SHORT, ...).

    The raw input is kept only masked, so the error is safe to log.
    """

    def __init__(self, raw_masked: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw_masked}: {reason}")
        self.raw_masked = raw_masked
        self.reason = reason


def sip_user_part(raw: str) -> str:
    """``sip:+4420...@host;user=phone`` -> ``+4420...``; anything else is returned stripped."""
    text = raw.strip()
    found = _SIP_URI.match(text)
    return found["user"] if found else text


def is_withheld(raw: str | None) -> bool:
    """True for callers that withheld their number (empty, "anonymous", Twilio's +266696687, ...)."""
    if raw is None:
        return True
    if raw[:1] == "+" and raw[1:].isdigit():
        return raw in WITHHELD_NUMBERS
    user = sip_user_part(raw)
    return user.lower() in WITHHELD_WORDS or user in WITHHELD_NUMBERS


def is_canonical_e164(raw: str) -> bool:
    """Already in E.164 form (``+`` and 2-15 digits, no spaces): no parsing needed to route on it."""
    return _CANONICAL_E164.fullmatch(raw) is not None


def is_plausible_e164(raw: str) -> bool:
    """Canonical E.164 with 7 to 15 digits: what a carrier reports can be kept as is, unparsed (carriers' ranges
    outrun phonenumbers' metadata, and a real caller must not be refused for that)."""
    return len(raw) >= 8 and is_canonical_e164(raw)


def normalize(raw: str, default_region: str | None) -> E164Number:
    """Parse `raw` (international, national for `default_region`, with an optional extension) into E.164.

    Raises `InvalidNumber` when phonenumbers cannot parse it, when it is not a possible number (TOO_SHORT,
    TOO_LONG, INVALID_LENGTH, ...) or when it is possible but not a valid number (NOT_VALID).
    """
    text = sip_user_part(raw)
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(mask(text), _PARSE_ERRORS.get(exc.error_type, "NOT_A_NUMBER")) from None
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(mask(text), _NOT_POSSIBLE.get(possible, "NOT_POSSIBLE"))
    region = phonenumbers.region_code_for_number(parsed)
    # is_valid_number(parsed) is this check with the same look-up: it is costly for shared calling codes (+1)
    if region is None or not phonenumbers.is_valid_number_for_region(parsed, region):
        raise InvalidNumber(mask(text), "NOT_VALID")
    return E164Number(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        extension=parsed.extension or None,
        region=region if region and region != "001" else None,
    )


def regions_where_valid(raw: str, skip: str | None = None) -> list[E164Number]:
    """The numbers a national-format `raw` would be in the regions where it is valid (for hints in errors):
    each calling code's main region only, the most common ones first."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS - {skip}, key=_commonness):
        code = phonenumbers.country_code_for_region(region)
        if phonenumbers.region_code_for_country_code(code) != region:
            continue
        try:
            found.append(normalize(raw, region))
        except InvalidNumber:
            continue
    return found


_COMMON_REGIONS = ("US", "GB", "AU", "CA", "DE", "FR", "IN", "IE", "NZ", "ES", "IT", "NL", "BR", "MX", "ZA")


def _commonness(region: str) -> tuple[int, str]:
    return (_COMMON_REGIONS.index(region) if region in _COMMON_REGIONS else len(_COMMON_REGIONS), region)


def example_e164(region: str, *, mobile: bool = False) -> str | None:
    """An example number of `region` in E.164 (phonenumbers' own example, a fixed line unless `mobile`), or None
    for an unknown region."""
    example = (
        phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if mobile
        else phonenumbers.example_number(region)
    )
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164) if example else None


def country_code_of(e164: str) -> int | None:
    """Calling code of an E.164 string (``+44...`` -> 44), without parsing the rest."""
    for length in (1, 2, 3):
        code = int(e164[1 : 1 + length]) if e164[1 : 1 + length].isdigit() else 0
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return None


@lru_cache(maxsize=65536)
def caller_region(e164: str) -> str | None:
    """ISO region of a caller's E.164 number, or None when unknown. Cheap for single-region calling codes."""
    code = country_code_of(e164)
    if code is None:
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) == 1:
        return None if regions[0] == "001" else regions[0]
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    return region or None


def mask(number: str) -> str:
    """Log-safe form: keep the country code and the last two digits (``+44*********00``)."""
    text = number.strip()
    digits = [c for c in text if c.isdigit()]
    if len(digits) <= 2:
        return "*" * len(digits)
    if text.startswith("+"):
        code = country_code_of("+" + "".join(digits))
        kept = len(str(code)) if code is not None else 0
        if kept + 2 < len(digits):
            return "+" + "".join(digits[:kept]) + "*" * (len(digits) - kept - 2) + "".join(digits[-2:])
    return "*" * (len(digits) - 2) + "".join(digits[-2:])
