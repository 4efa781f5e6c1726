"""What the caller hears: text spoken by text-to-speech, or an audio file or URL played."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeAlias

import msgspec

from gateway.ivr.problems import FieldPath

__all__ = ["Prompt", "PromptSpec", "prompt_items", "prompt_texts"]


class Prompt(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, kw_only=True):
    """One thing to hear: `say` some text, or `play` audio (an https URL, or a file path under ivr_flows/)."""

    say: Annotated[str | None, msgspec.Meta(description="Text to speak; may use {{ variables }}")] = None
    play: Annotated[
        str | None, msgspec.Meta(description="Audio URL, or a file path relative to ivr_flows/")
    ] = None
    voice: Annotated[str | None, msgspec.Meta(description="Text-to-speech voice, e.g. Polly.Amy")] = None
    language: Annotated[str | None, msgspec.Meta(description="Language of `say`, e.g. en-GB")] = None

    def __post_init__(self) -> None:
        if (self.say is None) == (self.play is None):
            raise ValueError("a prompt needs exactly one of `say` or `play`")


PromptSpec: TypeAlias = Annotated[
    str | Prompt | list[str | Prompt],
    msgspec.Meta(
        description="Text to speak, a {say|play} prompt, or a list of them played in order",
        examples=["Welcome to Acme.", {"play": "audio/welcome.wav"}],
    ),
]


def prompt_items(spec: str | Prompt | list[str | Prompt] | None) -> list[str | Prompt]:
    if spec is None:
        return []
    return list(spec) if isinstance(spec, list) else [spec]


def prompt_texts(
    spec: str | Prompt | list[str | Prompt] | None, path: FieldPath
) -> Iterator[tuple[FieldPath, str]]:
    """Every template inside a prompt spec, with its path (for validation)."""
    items = prompt_items(spec)
    for index, item in enumerate(items):
        item_path = (*path, index) if isinstance(spec, list) else path
        if isinstance(item, str):
            yield item_path, item
        elif item.say is not None:
            yield (*item_path, "say"), item.say
        elif item.play is not None:
            yield (*item_path, "play"), item.play
