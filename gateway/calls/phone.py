"""Phone number validation for API input: E.164 through `routing.numbers`, errors that name the field."""

from __future__ import annotations

from gateway.errors import InvalidInput
from routing.numbers import E164Number, InvalidNumber, example_e164, normalize, regions_where_valid

_HINTS = {
    "INVALID_COUNTRY_CODE": "start with + and the country code, or set the project's default_region",
    "NOT_A_NUMBER": "send digits, e.g. +14155550100",
    "TOO_SHORT": "it has too few digits for its country",
    "TOO_LONG": "it has too many digits for its country",
    "NOT_VALID": "no such number range exists in that country",
}


def to_e164(raw: str, region: str | None, field: str) -> E164Number:
    # The number goes back unmasked: the person who typed it sees it; problem details are not logged.
    try:
        return normalize(raw, region)
    except InvalidNumber as exc:
        text = raw.strip()
        if region and not text.startswith(("+", "00")) and exc.reason != "NOT_A_NUMBER":
            detail = (
                f"{field}: {text} is not a valid number for region {region} ({exc.reason}; numbers written "
                f"without + are read as national numbers of that region: the request's `region`, else the "
                f"project's default_region); write it in E.164, {_e164_example(text, region)}."
            )
        else:
            hint = _HINTS.get(exc.reason, "send it in E.164 form, e.g. +14155550100")
            detail = f"{field}: {text} is not a usable phone number ({exc.reason}); {hint}."
        raise InvalidInput(detail, field=field, extra={"reason": exc.reason}) from None


def _e164_example(text: str, region: str) -> str:
    candidates = regions_where_valid(text, skip=region)[:2]
    if candidates:
        return "e.g. " + " or ".join(f"{number.e164} ({number.region})" for number in candidates)
    example = example_e164(region)
    return f"with + and the country code (e.g. {example} in {region})" if example else "e.g. +14155550100"


def all_e164(raws: list[str], region: str | None, field: str) -> list[str]:
    return [to_e164(raw, region, f"{field}[{i}]").e164 for i, raw in enumerate(raws)]
