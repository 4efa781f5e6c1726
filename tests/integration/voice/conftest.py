"""Real voice engines, each loaded once per test session (loading costs seconds; recognising, fractions)."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from gateway.voice import audio
from gateway.voice.models import load_piper_voice, load_whisper

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from livekit.agents import vad
    from piper import PiperVoice

    from gateway.voice.tts import LocalTTS


@pytest.fixture(scope="session")
def piper_voice() -> PiperVoice:
    return load_piper_voice()


@pytest.fixture(scope="session")
def whisper() -> WhisperModel:
    return load_whisper()


@pytest.fixture(scope="session")
def silero() -> vad.VAD:
    from gateway.voice.stt import load_vad

    return load_vad()


def speak(engine: LocalTTS, text: str) -> audio.Pcm16:
    """The engine's whole prompt as PCM at its declared sample rate."""

    async def run() -> audio.Pcm16:
        frame = await engine.synthesize(text).collect()
        assert frame.sample_rate == engine.sample_rate
        return np.frombuffer(frame.data, dtype=np.int16).copy()

    return asyncio.run(run())


def write_wav(path: Path, samples: audio.Pcm16, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def read_wav(path: Path) -> tuple[audio.Pcm16, int]:
    with wave.open(str(path), "rb") as source:
        assert source.getnchannels() == 1
        assert source.getsampwidth() == 2
        samples = np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16).copy()
        return samples, source.getframerate()


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)
