"""`say`: speak some text, then continue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.problems import FieldPath
from gateway.ivr.steps.base import Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class SayStep(StepBase, frozen=True, tag="say"):
    """Speak `text` to the caller with text-to-speech, then go to `next`."""

    text: Annotated[str, msgspec.Meta(min_length=1, description="What to say; may use {{ variables }}")]
    next: StepRef
    voice: Annotated[str | None, msgspec.Meta(description="Voice (defaults to the flow's `voice`)")] = None
    language: Annotated[str | None, msgspec.Meta(description="Language (defaults to the flow's)")] = None

    def links(self) -> list[Link]:
        return [Link(("next",), self.next, "auto", "next")]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("text",), self.text)]

    def enter(self, run: Run) -> str | None:
        run.emit(run.spoken(self.text, voice=self.voice, language=self.language))
        return self.next
