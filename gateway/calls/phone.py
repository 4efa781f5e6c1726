"""Phone number validation for API input: E.164 through `routing.numbers`, errors that name the field."""

from __future__ import annotations

from gateway.errors import InvalidInput
from routing.numbers import E164Number, InvalidNumber, normalize

_HINTS = {
    "INVALID_COUNTRY_CODE": "start with + and the country code, or set the project's default_region",
    "NOT_A_NUMBER": "send digits, e.g. +14155550100",
    "TOO_SHORT": "it has too few digits for its country",
    "TOO_LONG": "it has too many digits for its country",
    "NOT_VALID": "no such number range exists in that country",
}


def to_e164(raw: str, region: str | None, field: str) -> E164Number:
    try:
        return normalize(raw, region)
    except InvalidNumber as exc:
        hint = _HINTS.get(exc.reason, "send it in E.164 form, e.g. +14155550100")
        raise InvalidInput(
            f"{field}: {exc.raw_masked} is not a usable phone number ({exc.reason}); {hint}.",
            field=field,
            extra={"reason": exc.reason},
        ) from None


def all_e164(raws: list[str], region: str | None, field: str) -> list[str]:
    return [to_e164(raw, region, f"{field}[{i}]").e164 for i, raw in enumerate(raws)]
