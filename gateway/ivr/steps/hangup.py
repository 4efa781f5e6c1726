"""`hangup`: end the call, optionally after a goodbye, or refuse it unanswered (busy / rejected)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from gateway.ivr.problems import FieldPath, Issue
from gateway.ivr.prompts import PromptSpec, prompt_texts
from gateway.ivr.steps.base import CheckContext, StepBase

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class HangupStep(StepBase, frozen=True, tag="hangup"):
    """Say `prompt` (if any) and hang up. `reject` refuses a call nobody has answered yet."""

    prompt: PromptSpec | None = None
    reason: Annotated[
        str, msgspec.Meta(min_length=1, description="Why, for call records (e.g. after_hours)")
    ] = "completed"
    reject: Annotated[
        Literal["busy", "rejected"] | None,
        msgspec.Meta(
            description="Refuse the call (busy tone / rejected) if nothing was played to the caller yet"
        ),
    ] = None

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        return prompt_texts(self.prompt, ("prompt",))

    def check(self, context: CheckContext) -> Iterable[Issue]:
        if self.reject is not None and self.prompt is not None:
            yield Issue(
                ("prompt",), "a rejected call is never answered, so the prompt cannot be heard", at_key=True
            )

    def enter(self, run: Run) -> str | None:
        run.emit(*run.sounds(self.prompt))
        run.hangup(self.reason, reject=self.reject)
        return None
