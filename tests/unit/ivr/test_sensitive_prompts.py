"""Prompts as call events keep them: words as spoken, long numbers masked."""

from __future__ import annotations

import pytest

from gateway.ivr import recorded_prompt


@pytest.mark.parametrize(
    ("spoken", "recorded"),
    [
        ("For sales, press 1. For support, press 2.", "For sales, press 1. For support, press 2."),
        ("We are open from 9 until 5:30.", "We are open from 9 until 5:30."),
        ("You entered 4321.", "You entered ****."),
        ("Call us on +44 20 7946 0123.", "Call us on +** ** **** ****."),
        ("Your card ending 1234-5678", "Your card ending ****-****"),
    ],
)
def test_long_numbers_are_masked_short_ones_kept(spoken: str, recorded: str) -> None:
    assert recorded_prompt(spoken) == recorded
