from __future__ import annotations

import math

import numpy as np
import pytest

from gateway.voice.transcript import confidence, quietest_cut


def test_a_window_is_cut_in_its_quietest_moment() -> None:
    rate = 1000
    loud = np.full(10 * rate, 8000, dtype=np.int16)
    loud[8300:8400] = 3  # a pause 8.3 s in

    assert quietest_cut(loud, rate, search_seconds=5.0) == 8300


def test_only_the_end_of_the_window_is_searched() -> None:
    rate = 1000
    loud = np.full(10 * rate, 8000, dtype=np.int16)
    loud[1000:1100] = 0  # too early to cut there: the window would shrink to nothing

    assert quietest_cut(loud, rate, search_seconds=2.0) >= 8000


def test_a_short_window_is_kept_whole() -> None:
    assert quietest_cut(np.zeros(150, dtype=np.int16), 1000) == 150


def test_confidence_combines_token_probability_and_speech_probability() -> None:
    assert confidence(0.0, 0.0) == 1.0
    assert confidence(math.log(0.8), 0.5) == pytest.approx(0.4)
    assert confidence(-50.0, 0.0) == pytest.approx(0.0, abs=1e-9)
    assert confidence(0.5, -0.1) == 1.0
