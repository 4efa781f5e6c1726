"""`record`: record a message (voicemail), then continue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.actions import Record
from gateway.ivr.events import Event, RecordResult
from gateway.ivr.problems import FieldPath
from gateway.ivr.prompts import PromptSpec, prompt_texts
from gateway.ivr.steps.base import DtmfKey, Link, StepBase, StepRef, VarName

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class RecordStep(StepBase, frozen=True, tag="record"):
    """Play `prompt`, record the caller (up to `max_length` seconds), keep the recording's URL in `into`."""

    next: StepRef
    prompt: PromptSpec | None = None
    max_length: Annotated[int, msgspec.Meta(ge=1, le=3600, description="Longest recording, seconds")] = 120
    beep: Annotated[bool, msgspec.Meta(description="Beep before recording")] = True
    finish_on_key: Annotated[
        DtmfKey, msgspec.Meta(description='Key that ends the recording ("" for none)')
    ] = "#"
    timeout: Annotated[int, msgspec.Meta(ge=1, le=60, description="Seconds of silence that end it")] = 5
    transcribe: Annotated[bool, msgspec.Meta(description="Also transcribe the recording")] = False
    into: Annotated[VarName | None, msgspec.Meta(description="Variable that keeps the recording URL")] = None

    def links(self) -> list[Link]:
        return [Link(("next",), self.next, "result", "recorded")]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        return prompt_texts(self.prompt, ("prompt",))

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("into",), self.into)] if self.into else []

    def enter(self, run: Run) -> str | None:
        run.emit(*run.sounds(self.prompt))
        run.record(
            Record(
                max_length=self.max_length,
                beep=self.beep,
                finish_on_key=self.finish_on_key,
                timeout=self.timeout,
                transcribe=self.transcribe,
            )
        )
        return None

    def resume(self, run: Run, event: Event) -> str | None:
        if self.into:
            run.vars[self.into] = event.url if isinstance(event, RecordResult) else ""
        return self.next
