"""Our G.711 phone channel against sox's, on every 16-bit value and on real synthesized speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.voice import audio
from gateway.voice.tts import EspeakTTS, PiperTTS
from tests.integration.voice.conftest import read_wav, sox, speak, write_wav

PHRASE = "Thank you for calling Acme. Please hold while we connect you."


def test_mulaw_encoding_is_bit_exact_with_sox_for_every_sample_value(tmp_path: Path) -> None:
    every = np.arange(-32768, 32768, dtype=np.int16)
    (tmp_path / "in.raw").write_bytes(every.tobytes())
    sox("-D", "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", tmp_path / "in.raw",
        "-t", "raw", "-e", "mu-law", tmp_path / "out.ul")  # fmt: skip
    theirs = np.frombuffer((tmp_path / "out.ul").read_bytes(), dtype=np.uint8)

    assert np.array_equal(audio.mulaw_encode(every), theirs)


def test_mulaw_decoding_matches_sox_for_every_code(tmp_path: Path) -> None:
    codes = np.arange(256, dtype=np.uint8)
    (tmp_path / "in.ul").write_bytes(codes.tobytes())
    sox("-t", "raw", "-e", "mu-law", "-r", "8000", "-c", "1", tmp_path / "in.ul",
        "-t", "raw", "-e", "signed", "-b", "16", tmp_path / "out.raw")  # fmt: skip

    theirs = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype="<i2")

    assert np.array_equal(audio.mulaw_decode(codes), theirs)


@pytest.mark.parametrize("engine", ["piper", "espeak-ng"])
def test_phone_channel_on_speech_matches_sox(engine: str, piper_voice: object, tmp_path: Path) -> None:
    tts = PiperTTS(piper_voice) if engine == "piper" else EspeakTTS()  # type: ignore[arg-type]
    speech = speak(tts, PHRASE)
    source = write_wav(tmp_path / "speech.wav", speech, tts.sample_rate)
    sox("-D", source, "-t", "raw", "-r", "8000", "-e", "mu-law", "-c", "1", tmp_path / "line.ul")
    sox("-t", "raw", "-e", "mu-law", "-r", "8000", "-c", "1", tmp_path / "line.ul",
        "-e", "signed", "-b", "16", tmp_path / "heard.wav")  # fmt: skip
    their_codes = np.frombuffer((tmp_path / "line.ul").read_bytes(), dtype=np.uint8)
    their_pcm, rate = read_wav(tmp_path / "heard.wav")

    our_codes = audio.mulaw_encode(audio.resample(speech, tts.sample_rate, audio.PHONE_RATE))
    our_pcm = audio.phone_channel(speech, tts.sample_rate)

    assert rate == audio.PHONE_RATE
    assert our_codes.size == their_codes.size == our_pcm.size == their_pcm.size
    assert our_pcm.size == pytest.approx(speech.size * audio.PHONE_RATE / tts.sample_rate, abs=2)
    assert (our_codes == their_codes).mean() > 0.9
    steps_apart = np.abs(our_codes.astype(int) - their_codes.astype(int))
    assert (steps_apart <= 1).mean() > 0.99
    difference = our_pcm.astype(float) - their_pcm.astype(float)
    snr_db = 10 * np.log10((their_pcm.astype(float) ** 2).sum() / (difference**2).sum())
    assert snr_db > 40
