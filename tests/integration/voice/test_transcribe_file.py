"""Recordings: `transcribe_file` in bounded windows, and `trunkline transcribe FILE`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest
from faster_whisper import WhisperModel
from piper import PiperVoice

from gateway.cli import main
from gateway.voice import audio
from gateway.voice.transcript import TranscriptSegment, UnreadableAudio, transcribe_file
from gateway.voice.tts import PiperTTS
from gateway.voice.wer import word_errors
from tests.integration.voice.conftest import sox, speak, write_wav

FIRST = "Please leave your message after the tone."
SECOND = "Thank you, your message has been saved."


@pytest.fixture(scope="module")
def voicemail(piper_voice: PiperVoice, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sentences 1.5 s apart, as a carrier stores a recording: 8 kHz mu-law WAV (about 6 s)."""
    tts = PiperTTS(piper_voice, sample_rate=audio.PHONE_RATE)
    gap = np.zeros(int(1.5 * audio.PHONE_RATE), dtype=np.int16)
    call = np.concatenate([gap[:800], speak(tts, FIRST), gap, speak(tts, SECOND), gap[:800]])
    folder = tmp_path_factory.mktemp("recordings")
    plain = write_wav(folder / "plain.wav", call, audio.PHONE_RATE)
    sox(plain, "-e", "mu-law", folder / "voicemail.wav")
    return folder / "voicemail.wav"


def test_a_recording_cut_into_short_windows_keeps_every_word(voicemail: Path, whisper: WhisperModel) -> None:
    segments = list(transcribe_file(voicemail, whisper, window_seconds=4.0))

    text = " ".join(segment.text for segment in segments)
    errors, words = word_errors(f"{FIRST} {SECOND}", text)
    assert errors / words <= 0.15, text
    starts = [segment.start for segment in segments]
    assert starts == sorted(starts)
    assert segments[-1].end > 4.0, "times after the first window are offset by where it was cut"
    assert all(segment.start <= word.start <= word.end for segment in segments for word in segment.words)


def test_an_unreadable_file(tmp_path: Path, whisper: WhisperModel) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)

    with pytest.raises(UnreadableAudio, match=r"junk\.wav"):
        list(transcribe_file(junk, whisper))


def test_cli_prints_json_segments(voicemail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", "--json", str(voicemail)]) == 0

    lines = capsys.readouterr().out.splitlines()
    segments = [msgspec.json.decode(line, type=TranscriptSegment) for line in lines]
    errors, words = word_errors(f"{FIRST} {SECOND}", " ".join(segment.text for segment in segments))
    assert errors / words <= 0.15
    assert all(0 < segment.confidence <= 1 for segment in segments)


def test_cli_explains_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(tmp_path / "nothing.wav")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_explains_a_broken_model(
    voicemail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", "--model-dir", str(tmp_path), str(voicemail)]) == 1
    assert "cannot load the speech model" in capsys.readouterr().err


def test_the_server_never_imports_the_voice_engines() -> None:
    probe = (
        "import sys, gateway.app, gateway.cli; "
        "loaded = sorted(m for m in sys.modules if m.startswith(('livekit.agents', 'gateway.voice', 'piper'))); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
