"""Voice benchmark: the offline engines on the project's own IVR prompts, through a phone line.

The corpus is every plain prompt in ivr_flows/*.yaml (text, prompt, greetings, invalid/timeout prompts; ones
with template variables left out). For each TTS engine (piper with the bundled voice, espeak-ng) at 8 kHz:
real-time factor (synthesis time / audio length), first-audio latency (time to the first frame) without and
with the prompt cache. Then each engine's audio goes through the phone channel (8 kHz mu-law) and faster-whisper
(bundled tiny.en, int8) transcribes it: real-time factor and word error rate over the corpus. Model load times
are reported too. Figures vary with the machine's load: compare the ratios in one run. Last line: one JSON object.

    .venv/bin/python benchmarks/voice.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.voice import audio
from gateway.voice.cache import PromptCache
from gateway.voice.models import load_piper_voice, load_whisper
from gateway.voice.transcript import recognize
from gateway.voice.tts import EspeakTTS, LocalTTS, PiperTTS
from gateway.voice.wer import word_errors

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

ROOT = Path(__file__).resolve().parent.parent
PROMPT_KEYS = {"text", "prompt", "greeting", "short_greeting", "invalid_prompt", "timeout_prompt"}


def corpus() -> list[str]:
    """The sample flows' prompts, once each, in file order."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in PROMPT_KEYS and isinstance(value, str) and "{{" not in value:
                    found.append(" ".join(value.split()))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted((ROOT / "ivr_flows").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text()))
    return list(dict.fromkeys(found))


async def timed_synthesis(tts: LocalTTS, text: str) -> tuple[audio.Pcm16, float, float]:
    """(audio, seconds to the first frame, seconds in all)."""
    start = time.perf_counter()
    first = None
    frames = []
    stream = tts.synthesize(text)
    async for event in stream:
        first = first if first is not None else time.perf_counter() - start
        frames.append(np.frombuffer(event.frame.data, dtype=np.int16))
    await stream.aclose()
    return np.concatenate(frames), first or 0.0, time.perf_counter() - start


def bench_engine(tts: LocalTTS, phrases: list[str], whisper: WhisperModel, repeat: int) -> dict[str, float]:
    cold_first, warm_first, synth_seconds, spoken_seconds = [], [], 0.0, 0.0
    stt_seconds, errors, words = 0.0, 0, 0
    for _ in range(repeat):
        tts.cache = PromptCache()
        for text in phrases:
            speech, first, took = asyncio.run(timed_synthesis(tts, text))
            _, cached_first, _ = asyncio.run(timed_synthesis(tts, text))
            cold_first.append(first)
            warm_first.append(cached_first)
            synth_seconds += took
            spoken_seconds += speech.size / tts.sample_rate
            line = audio.phone_channel(speech, tts.sample_rate)
            start = time.perf_counter()
            segments = recognize(whisper, line, audio.PHONE_RATE)
            stt_seconds += time.perf_counter() - start
            wrong, count = word_errors(text, " ".join(segment.text for segment in segments))
            errors, words = errors + wrong, words + count
    return {
        "tts_rtf": synth_seconds / spoken_seconds,
        "first_audio_ms_p50": statistics.median(cold_first) * 1000,
        "first_audio_ms_max": max(cold_first) * 1000,
        "cached_first_audio_ms_p50": statistics.median(warm_first) * 1000,
        "stt_rtf": stt_seconds / spoken_seconds,
        "wer": errors / words,
        "audio_seconds": spoken_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the corpus (default 1)")
    args = parser.parse_args()
    phrases = corpus()
    print(f"corpus: {len(phrases)} prompts from ivr_flows/, {sum(len(p.split()) for p in phrases)} words")

    figures: dict[str, float] = {}
    start = time.perf_counter()
    voice = load_piper_voice()
    figures["piper_load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    whisper = load_whisper()
    figures["whisper_load_s"] = time.perf_counter() - start
    print(
        f"load: piper voice {figures['piper_load_s']:.2f} s, whisper tiny.en {figures['whisper_load_s']:.2f} s"
    )

    for name, tts in (("piper", PiperTTS(voice, sample_rate=8000)), ("espeak", EspeakTTS(sample_rate=8000))):
        result = bench_engine(tts, phrases, whisper, args.repeat)
        print(
            f"{name:>6}: TTS RTF {result['tts_rtf']:.3f} ({1 / result['tts_rtf']:.1f}x real time), "
            f"first audio p50 {result['first_audio_ms_p50']:.0f} ms (max {result['first_audio_ms_max']:.0f}), "
            f"cached {result['cached_first_audio_ms_p50']:.2f} ms; "
            f"phone line -> whisper: STT RTF {result['stt_rtf']:.3f}, WER {result['wer']:.1%} "
            f"over {result['audio_seconds']:.1f} s of speech"
        )
        figures.update({f"{name}_{key}": value for key, value in result.items()})
    print(json.dumps({"benchmark": "voice", **{key: round(value, 4) for key, value in figures.items()}}))


if __name__ == "__main__":
    main()
