from __future__ import annotations

import numpy as np
import pytest

from gateway.voice import audio


def tone(freq: float, rate: int, seconds: float = 0.5, level: float = 0.5) -> audio.Pcm16:
    t = np.arange(int(rate * seconds)) / rate
    return audio.as_pcm16(level * np.sin(2 * np.pi * freq * t))


def test_mulaw_round_trip_error_stays_within_the_step_size() -> None:
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    decoded = audio.mulaw_decode(audio.mulaw_encode(samples)).astype(np.int32)
    error = np.abs(decoded - samples.astype(np.int32))
    # G.711 steps grow with magnitude: 2 near zero, 1024 in the loudest segment
    assert (error <= np.maximum(16, np.abs(samples.astype(np.int32)) // 16)).all()


def test_mulaw_is_stable_once_encoded() -> None:
    codes = np.arange(256, dtype=np.uint8)
    again = audio.mulaw_encode(audio.mulaw_decode(codes))
    # 0x7F and 0xFF are both zero; zero encodes as 0xFF
    assert np.array_equal(again[codes != 0x7F], codes[codes != 0x7F])


def test_resampling_keeps_a_tone_and_the_duration() -> None:
    wide = tone(440, 22050)
    narrow = audio.resample(wide, 22050, 8000)

    assert narrow.size == pytest.approx(4000, abs=1)
    spectrum = np.abs(np.fft.rfft(narrow))
    assert np.argmax(spectrum) * 8000 / narrow.size == pytest.approx(440, abs=4)


def test_resampling_down_removes_what_a_phone_line_cannot_carry() -> None:
    above_nyquist = tone(6000, 22050)
    narrow = audio.resample(above_nyquist, 22050, 8000)
    assert np.sqrt(np.mean(narrow.astype(float) ** 2)) < 50  # was ~11,600 RMS; aliasing would keep it


def test_phone_channel_gives_8khz_speech_band_audio() -> None:
    line = audio.phone_channel(tone(1000, 16000), 16000)

    assert line.size == pytest.approx(4000, abs=1)
    assert line.dtype == np.int16
    correlation = np.corrcoef(line.astype(float), tone(1000, 8000)[: line.size].astype(float))[0, 1]
    assert correlation > 0.99


def test_float_conversion_clips_and_rounds() -> None:
    assert audio.as_pcm16(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])).tolist() == [
        -32768, -32768, 0, 16384, 32767, 32767,
    ]  # fmt: skip
    assert audio.as_float(np.array([-32768, 16384], dtype=np.int16)).tolist() == [-1.0, 0.5]


def test_resampling_rejects_nonsense_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        audio.resample(tone(440, 8000), 0, 8000)
