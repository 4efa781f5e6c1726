"""Speech to text with faster-whisper: typed segments from PCM, and files decoded as a stream.

`recognize(model, samples, rate)` is what the livekit-agents STT calls for one utterance; `transcribe_file(path)`
walks a recording of any length in windows of at most `WINDOW_SECONDS`, cut in the quietest moment near each
window's end so no word is split, so memory stays bounded however long the recording is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from gateway.voice import audio

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_RATE = 16000
WINDOW_SECONDS = 30.0
"""Whisper reads 30 s at a time; a file is fed in windows no longer than that."""
CUT_SEARCH_SECONDS = 5.0
"""A window ends in the quietest 100 ms of its last few seconds."""


class Word(msgspec.Struct, frozen=True):
    text: str
    start: float
    end: float
    probability: float


class TranscriptSegment(msgspec.Struct, frozen=True):
    """One stretch of recognised speech; times in seconds from the start of the audio."""

    text: str
    start: float
    end: float
    confidence: float
    words: tuple[Word, ...] = ()


class UnreadableAudio(Exception):
    """The file is not audio that can be decoded."""


def confidence(avg_logprob: float, no_speech_prob: float) -> float:
    """A 0..1 confidence: the mean token probability, discounted by the chance the segment is not speech."""
    return max(0.0, min(1.0, math.exp(avg_logprob) * (1.0 - no_speech_prob)))


def recognize(
    model: WhisperModel,
    samples: audio.Pcm16,
    sample_rate: int,
    *,
    offset: float = 0.0,
    language: str = "en",
    vad_filter: bool = False,
    beam_size: int = 1,
) -> list[TranscriptSegment]:
    """Transcribe mono PCM (any rate) with word times; blocking, so run it in a thread from async code."""
    waveform = audio.as_float(audio.resample(samples, sample_rate, WHISPER_RATE))
    found, _info = model.transcribe(
        waveform,
        language=language,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=vad_filter,
        condition_on_previous_text=False,
    )
    segments = []
    for segment in found:
        text = segment.text.strip()
        if not text:
            continue
        words = tuple(
            Word(
                text=word.word.strip(),
                start=round(offset + float(word.start), 3),
                end=round(offset + float(word.end), 3),
                probability=round(float(word.probability), 4),
            )
            for word in segment.words or ()
        )
        segments.append(
            TranscriptSegment(
                text=text,
                start=round(offset + float(segment.start), 3),
                end=round(offset + float(segment.end), 3),
                confidence=round(confidence(segment.avg_logprob, segment.no_speech_prob), 4),
                words=words,
            )
        )
    return segments


def _decoded_pcm(path: Path) -> Iterator[audio.Pcm16]:
    """The file's audio as 16 kHz mono PCM blocks, decoded as it is read (PyAV, which faster-whisper uses)."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UnreadableAudio(f"cannot open {path}: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise UnreadableAudio(f"{path} has no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=WHISPER_RATE)
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
        except av.error.FFmpegError as exc:
            raise UnreadableAudio(f"cannot decode {path}: {exc}") from exc
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1).astype(np.int16, copy=False)


def quietest_cut(samples: audio.Pcm16, sample_rate: int, search_seconds: float = CUT_SEARCH_SECONDS) -> int:
    """Where to end a window: the start of the quietest 100 ms block within its last `search_seconds`."""
    block = max(1, sample_rate // 10)
    start = max(0, samples.size - int(search_seconds * sample_rate))
    tail = samples[start:].astype(np.float64)
    count = tail.size // block
    if count < 2:
        return samples.size
    energy = (tail[: count * block].reshape(count, block) ** 2).mean(axis=1)
    return start + int(np.argmin(energy)) * block


def transcribe_file(
    path: Path, model: WhisperModel | None = None, *, window_seconds: float = WINDOW_SECONDS
) -> Iterator[TranscriptSegment]:
    """Transcribe an audio file of any length and format ffmpeg reads, yielding segments as they are ready."""
    if model is None:
        from gateway.voice.models import load_whisper

        model = load_whisper()
    window = int(window_seconds * WHISPER_RATE)
    pending: list[audio.Pcm16] = []
    held = 0
    consumed = 0
    for block in _decoded_pcm(path):
        pending.append(block)
        held += block.size
        while held >= window:
            buffered = np.concatenate(pending)
            cut = quietest_cut(buffered[:window], WHISPER_RATE, min(CUT_SEARCH_SECONDS, window_seconds / 2))
            offset = consumed / WHISPER_RATE
            yield from recognize(model, buffered[:cut], WHISPER_RATE, offset=offset, vad_filter=True)
            consumed += cut
            pending, held = [buffered[cut:]], buffered.size - cut
    if held:
        rest = np.concatenate(pending)
        yield from recognize(model, rest, WHISPER_RATE, offset=consumed / WHISPER_RATE, vad_filter=True)
