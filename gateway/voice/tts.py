"""livekit-agents text to speech with local engines: piper (neural, bundled voice) and espeak-ng (fallback).

Both are `LocalTTS`: the engine yields PCM16 chunks at its native rate as it produces them (piper one sentence
at a time, espeak-ng as its output pipe fills); `LocalStream` resamples them on the fly to the declared
`sample_rate` (e.g. 8000 for a phone line) and pushes them out at once, so the first audio leaves before the
whole prompt is synthesized. With a `PromptCache`, a prompt already said comes from the cache without running
the engine.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import uuid
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, ClassVar, Never

import numpy as np
import soxr
from livekit.agents import APIError, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from gateway.voice.cache import PromptCache, PromptKey
from gateway.voice.models import VoiceModelError, espeak_executable, load_piper_voice

if TYPE_CHECKING:
    from piper import AudioChunk, PiperVoice

ESPEAK_RATE = 22050
"""espeak-ng's own voices all speak at 22,050 Hz."""

# piper logs each prompt's text at DEBUG, and prompts carry personal data (a caller's name, an account number)
logging.getLogger("piper").setLevel(logging.WARNING)


class LocalTTS(tts.TTS[Never]):
    """A TTS whose engine runs on this machine; subclasses yield native-rate PCM16 chunks."""

    engine: ClassVar[str]

    def __init__(
        self, *, voice: str, native_rate: int, sample_rate: int | None, cache: PromptCache | None
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=sample_rate or native_rate,
            num_channels=1,
        )
        self.voice = voice
        self.native_rate = native_rate
        self.cache = cache

    @property
    def model(self) -> str:
        return self.voice

    @property
    def provider(self) -> str:
        return self.engine

    def prompt_key(self, text: str) -> PromptKey:
        return PromptKey(engine=self.engine, voice=self.voice, sample_rate=self.sample_rate, text=text)

    @abstractmethod
    def engine_chunks(self, text: str) -> AsyncIterator[bytes]:
        """Run the engine on `text`: PCM16 mono chunks at `native_rate`, each as soon as it exists."""

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> LocalStream:
        return LocalStream(tts=self, input_text=text, conn_options=conn_options)


class LocalStream(tts.ChunkedStream):
    """One prompt: from the cache when it is there, else from the engine (and then into the cache)."""

    _tts: LocalTTS

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine = self._tts
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=engine.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        key = engine.prompt_key(self.input_text)
        cache = engine.cache
        cached = None
        if cache is not None:  # a cache with a directory may read a file: off the event loop then
            cached = cache.get(key) if cache.directory is None else await asyncio.to_thread(cache.get, key)
        if cached is not None:
            output_emitter.push(cached)
            return
        converter = _RateConverter(engine.native_rate, engine.sample_rate)
        spoken: list[bytes] = []
        async for chunk in engine.engine_chunks(self.input_text):
            converted = converter.convert(chunk)
            if converted:
                spoken.append(converted)
                output_emitter.push(converted)
        tail = converter.finish()
        if tail:
            spoken.append(tail)
            output_emitter.push(tail)
        if cache is not None and spoken:  # only a prompt spoken to the end is kept
            await asyncio.to_thread(cache.put, key, b"".join(spoken))


class _RateConverter:
    """Streaming PCM16 resampling (libsoxr keeps its filter state between chunks, so no seams)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self._stream = None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, "int16")

    def convert(self, chunk: bytes) -> bytes:
        if self._stream is None:
            return chunk
        samples = np.frombuffer(chunk, dtype=np.int16)
        return bytes(self._stream.resample_chunk(samples, last=False).tobytes())

    def finish(self) -> bytes:
        if self._stream is None:
            return b""
        return bytes(self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).tobytes())


class PiperTTS(LocalTTS):
    """Piper neural TTS; by default the bundled en_US "joe" voice (22,050 Hz native)."""

    engine = "piper"

    def __init__(
        self,
        voice: PiperVoice | None = None,
        *,
        voice_name: str = "en_US-joe-medium",
        sample_rate: int | None = None,
        cache: PromptCache | None = None,
    ) -> None:
        self._piper = voice if voice is not None else load_piper_voice()
        # piper phonemizes through espeak-ng's C library, which keeps global state: one sentence at a time
        self._lock = threading.Lock()
        super().__init__(
            voice=voice_name, native_rate=self._piper.config.sample_rate, sample_rate=sample_rate, cache=cache
        )

    def _next_sentence(self, sentences: Iterator[AudioChunk]) -> bytes | None:
        with self._lock:
            chunk = next(sentences, None)
        return None if chunk is None else chunk.audio_int16_bytes

    async def engine_chunks(self, text: str) -> AsyncIterator[bytes]:
        sentences = iter(self._piper.synthesize(text))
        while (pcm := await asyncio.to_thread(self._next_sentence, sentences)) is not None:
            yield pcm


class EspeakTTS(LocalTTS):
    """espeak-ng in a subprocess: small, robotic, always there (Debian package `espeak-ng`)."""

    engine = "espeak-ng"

    def __init__(
        self,
        voice: str = "en-us",
        *,
        words_per_minute: int = 160,
        sample_rate: int | None = None,
        cache: PromptCache | None = None,
        executable: str = "espeak-ng",
    ) -> None:
        self._program = espeak_executable(executable)
        check = subprocess.run(  # noqa: S603 - a resolved program and fixed options; fails on a wrong voice now
            [self._program, "-q", "-v", voice, ""], capture_output=True, text=True, check=False, timeout=10
        )
        if check.returncode != 0:
            raise VoiceModelError("espeak-ng", f"voice {voice!r}: {check.stderr.strip() or check.returncode}")
        self._words_per_minute = words_per_minute
        super().__init__(voice=voice, native_rate=ESPEAK_RATE, sample_rate=sample_rate, cache=cache)

    def prompt_key(self, text: str) -> PromptKey:
        base = super().prompt_key(text)
        return PromptKey(
            base.engine, f"{base.voice}@{self._words_per_minute}wpm", base.sample_rate, base.text
        )

    async def engine_chunks(self, text: str) -> AsyncIterator[bytes]:
        process = await asyncio.create_subprocess_exec(
            *[self._program, "--stdout", "-v", self.voice, "-s", str(self._words_per_minute)],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            process.stdin.write(text.encode())  # on stdin, so text starting with "-" is never an option
            await process.stdin.drain()
            process.stdin.close()
            header = await process.stdout.readexactly(44)
            rate = int.from_bytes(header[24:28], "little")
            if header[:4] != b"RIFF" or header[36:40] != b"data" or rate != self.native_rate:
                raise APIError(f"espeak-ng wrote an unexpected WAV header ({rate} Hz)", retryable=False)
            odd = b""
            while block := await process.stdout.read(8192):
                block, odd = odd + block, b""
                if len(block) % 2:
                    block, odd = block[:-1], block[-1:]
                yield block
            errors = await process.stderr.read()
            if await process.wait() != 0:
                raise APIError(
                    f"espeak-ng failed: {errors.decode(errors='replace').strip()}", retryable=False
                )
        except asyncio.IncompleteReadError as exc:
            await process.wait()
            raise APIError(f"espeak-ng stopped early (exit {process.returncode})", retryable=False) from exc
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
