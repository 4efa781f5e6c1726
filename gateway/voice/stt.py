"""livekit-agents speech to text over faster-whisper (bundled tiny.en), plus silero VAD for streaming.

`WhisperSTT` recognises one buffered utterance (`recognize`); `streaming_stt()` wraps it in livekit-agents'
`StreamAdapter` with silero VAD, which cuts the caller's audio into utterances as they speak and emits
START_OF_SPEECH, END_OF_SPEECH and a FINAL_TRANSCRIPT per utterance.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Never

import msgspec
import numpy as np
from livekit import rtc
from livekit.agents import LanguageCode, stt, vad
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
    TimedString,
)
from livekit.agents.utils import AudioBuffer, is_given

from gateway.voice import audio
from gateway.voice.transcript import TranscriptSegment, recognize

if TYPE_CHECKING:
    from faster_whisper import WhisperModel


class WhisperSTT(stt.STT[Never]):
    """Non-streaming recognition with a local faster-whisper model (int8 on the CPU)."""

    def __init__(
        self,
        model: WhisperModel | None = None,
        *,
        model_name: str = "whisper-tiny.en",
        language: str = "en",
        beam_size: int = 1,
    ) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=False, interim_results=False, aligned_transcript="word"
            )
        )
        if model is None:
            from gateway.voice.models import load_whisper

            model = load_whisper()
        self._whisper = model
        self._model_name = model_name
        self._language = language
        self._beam_size = beam_size

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer)
        samples = mono_pcm(frame)
        chosen = language if is_given(language) else self._language
        segments = await asyncio.to_thread(
            recognize, self._whisper, samples, frame.sample_rate, language=chosen, beam_size=self._beam_size
        )
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex,
            alternatives=[speech_data(segments, chosen)],
        )


def mono_pcm(frame: rtc.AudioFrame) -> audio.Pcm16:
    """A frame's interleaved int16 samples, mixed down to one channel."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    if frame.num_channels == 1:
        return samples
    mixed: audio.Pcm16 = samples.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
    return mixed


def speech_data(segments: list[TranscriptSegment], language: str) -> stt.SpeechData:
    """Segments as one livekit-agents alternative: joined text, duration-weighted confidence, word times;
    the segments themselves (times, confidence, words) under `metadata["segments"]`."""
    words = [
        TimedString(word.text, start_time=word.start, end_time=word.end, confidence=word.probability)
        for segment in segments
        for word in segment.words
    ]
    spoken = sum(max(segment.end - segment.start, 0.01) for segment in segments)
    weighted = sum(segment.confidence * max(segment.end - segment.start, 0.01) for segment in segments)
    return stt.SpeechData(
        language=LanguageCode(language),
        text=" ".join(segment.text for segment in segments),
        start_time=segments[0].start if segments else 0.0,
        end_time=segments[-1].end if segments else 0.0,
        confidence=weighted / spoken if segments else 0.0,
        words=words,
        metadata={"segments": msgspec.to_builtins(segments)},
    )


def load_vad() -> vad.VAD:
    """Silero VAD from the model file livekit-plugins-silero ships."""
    from livekit.plugins import silero

    return silero.VAD.load()


def streaming_stt(
    recognizer: stt.STT[Never] | None = None, voice_activity: vad.VAD | None = None
) -> stt.StreamAdapter:
    """Streaming recognition: silero VAD cuts utterances, the (whisper) recognizer transcribes each one."""
    return stt.StreamAdapter(stt=recognizer or WhisperSTT(), vad=voice_activity or load_vad())
