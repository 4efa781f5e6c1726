"""The local TTS engines through livekit-agents' ChunkedStream: streamed chunks, declared rates, the cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from piper import PiperVoice

from gateway.voice.cache import PromptCache
from gateway.voice.tts import EspeakTTS, LocalTTS, PiperTTS
from tests.integration.voice.conftest import speak

TWO_SENTENCES = "Thank you for calling Acme. Please hold while we connect you."


class CountingPiper(PiperTTS):
    """The real piper engine, counting how often it is asked to speak."""

    engine_runs = 0

    async def engine_chunks(self, text: str) -> AsyncIterator[bytes]:
        self.engine_runs += 1
        async for chunk in super().engine_chunks(text):
            yield chunk


def chunk_arrivals(tts: LocalTTS, text: str) -> list[tuple[int, bool]]:
    async def run() -> list[tuple[int, bool]]:
        stream = tts.synthesize(text)
        arrivals = [(event.frame.sample_rate, stream.done) async for event in stream]
        await stream.aclose()
        return arrivals

    return asyncio.run(run())


def test_piper_streams_sentence_by_sentence_at_the_declared_rate(piper_voice: PiperVoice) -> None:
    arrivals = chunk_arrivals(PiperTTS(piper_voice, sample_rate=8000), " ".join([TWO_SENTENCES] * 2))

    assert len(arrivals) > 2
    assert {rate for rate, _ in arrivals} == {8000}
    assert not arrivals[0][1], "the first frame should arrive while synthesis is still running"


def test_piper_loads_the_bundled_voice_at_its_native_rate() -> None:
    voice = PiperTTS()
    assert voice.sample_rate == voice.native_rate == 22050
    assert voice.provider == "piper"


def test_espeak_speaks_at_the_declared_rate() -> None:
    native = speak(EspeakTTS(), "Goodbye.")
    phone = speak(EspeakTTS(sample_rate=8000), "Goodbye.")

    assert native.size > 0.3 * 22050
    assert phone.size == pytest.approx(native.size * 8000 / 22050, rel=0.01)
    assert np.abs(phone).max() > 1000


def test_espeak_takes_text_that_looks_like_an_option() -> None:
    assert speak(EspeakTTS(), "--help me").size > 0


def test_a_repeated_prompt_comes_from_the_cache_without_running_the_engine(piper_voice: PiperVoice) -> None:
    tts = CountingPiper(piper_voice, sample_rate=8000, cache=PromptCache())

    first = speak(tts, TWO_SENTENCES)
    second = speak(tts, TWO_SENTENCES)

    assert tts.engine_runs == 1
    assert np.array_equal(first, second)
    assert tts.cache is not None
    assert (tts.cache.stats.hits, tts.cache.stats.misses) == (1, 1)
    speak(tts, "Goodbye.")
    assert tts.engine_runs == 2


def test_the_cache_key_holds_rate_and_voice(piper_voice: PiperVoice) -> None:
    cache = PromptCache()
    phone = CountingPiper(piper_voice, sample_rate=8000, cache=cache)
    wide = CountingPiper(piper_voice, sample_rate=16000, cache=cache)

    # piper draws noise, so two syntheses differ a little in length; the rate doubles it
    assert speak(phone, "Goodbye.").size * 2 == pytest.approx(speak(wide, "Goodbye.").size, rel=0.15)
    assert (phone.engine_runs, wide.engine_runs) == (1, 1)


def test_the_disk_cache_serves_a_new_process(piper_voice: PiperVoice, tmp_path: Path) -> None:
    first = CountingPiper(piper_voice, sample_rate=8000, cache=PromptCache(directory=tmp_path))
    spoken = speak(first, "Goodbye.")
    later = CountingPiper(piper_voice, sample_rate=8000, cache=PromptCache(directory=tmp_path))

    assert np.array_equal(speak(later, "Goodbye."), spoken)
    assert later.engine_runs == 0
    assert later.cache is not None
    assert later.cache.stats.disk_hits == 1
    assert [p.suffix for p in tmp_path.iterdir()] == [".pcm"]


def test_prompt_text_stays_out_of_debug_logs(
    piper_voice: PiperVoice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    speak(PiperTTS(piper_voice), "Hello Margaret, your account ends in 4 4 7 1.")
    assert "Margaret" not in caplog.text


def test_an_interrupted_prompt_is_not_cached(piper_voice: PiperVoice) -> None:
    tts = CountingPiper(piper_voice, sample_rate=8000, cache=PromptCache())

    long_prompt = " ".join([TWO_SENTENCES] * 3)  # the engine is still busy when the caller speaks

    async def barge_in() -> None:
        stream = tts.synthesize(long_prompt)
        async for _ in stream:
            break  # the caller speaks over the prompt after its first frame
        await stream.aclose()

    asyncio.run(barge_in())

    assert tts.cache is not None
    assert len(tts.cache) == 0
    speak(tts, long_prompt)
    assert tts.engine_runs == 2
    assert len(tts.cache) == 1
