"""Word error rate: (substitutions + deletions + insertions) / reference words, after light normalisation.

Normalisation lowercases, drops punctuation, and writes small numbers as digits ("one" and "1" are the same
word to a caller), so the rate measures recognition, not spelling conventions.
"""

from __future__ import annotations

import re

_NUMBER_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> list[str]:
    words = _NOT_WORD.sub(" ", text.lower().replace("-", " ")).split()
    return [_NUMBER_WORDS.get(word.strip("'"), word.strip("'")) for word in words if word.strip("'")]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length) after normalisation."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    errors, words = word_errors(reference, hypothesis)
    return errors / max(words, 1)
