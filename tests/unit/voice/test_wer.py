from __future__ import annotations

import pytest

from gateway.voice.wer import normalize, word_error_rate, word_errors


def test_normalisation_ignores_case_punctuation_and_number_spelling() -> None:
    assert normalize("Press ONE for sales, 2 for support!") == [
        "press",
        "1",
        "for",
        "sales",
        "2",
        "for",
        "support",
    ]
    assert normalize("your eight-digit number") == normalize("Your 8 digit number.")


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("please hold", "please hold", 0),
        ("please hold", "please", 1),  # deletion
        ("please hold", "please do hold", 1),  # insertion
        ("please hold", "place hold", 1),  # substitution
        ("please hold", "", 2),
        ("a b c d", "b c d a", 2),
    ],
)
def test_errors_count_substitutions_deletions_and_insertions(
    reference: str, hypothesis: str, errors: int
) -> None:
    assert word_errors(reference, hypothesis) == (errors, len(reference.split()))


def test_rate_is_errors_over_reference_words() -> None:
    assert word_error_rate("thank you for calling", "thank you for falling") == 0.25
    assert word_error_rate("", "anything") == 1.0
