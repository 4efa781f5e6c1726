"""What every step type shares: the base Struct, links to other steps, and the hooks the engine calls."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

import msgspec

from gateway.ivr.events import Event
from gateway.ivr.problems import FieldPath, Issue

if TYPE_CHECKING:
    from gateway.ivr.run import Run

__all__ = [
    "CheckContext",
    "FlowRef",
    "Link",
    "LinkKind",
    "StepBase",
    "StepRef",
    "VarName",
    "normalise_words",
    "speech_matches",
]

StepRef: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, description="Id of a step in this flow")]
FlowRef: TypeAlias = Annotated[
    str, msgspec.Meta(min_length=1, description="Id of another flow (its file name without .yaml)")
]
VarName: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Variable name: letters, digits, _")
]
Seconds: TypeAlias = Annotated[float, msgspec.Meta(gt=0, le=60)]
DtmfKey: TypeAlias = Literal["", "#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]

LinkKind: TypeAlias = Literal["input", "auto", "silence", "result", "include", "after_include"]
"""How a link is taken: after caller input (`input`), straight away (`auto`), after the caller stayed
silent (`silence`), on an outside result such as an HTTP reply or a failed transfer (`result`), into an
included flow (`include`), or back from it (`after_include`). Only `input` needs the caller to act."""


class Link(msgspec.Struct, frozen=True, gc=False):
    """An edge of the flow graph: from a step, through `field`, to `target` (in `flow` when set)."""

    field: FieldPath
    target: str | None
    kind: LinkKind
    label: str
    flow: str | None = None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What step checks may consult beyond the step itself."""

    schedules: frozenset[str]
    base_dir: Path | None


class StepBase(
    msgspec.Struct, kw_only=True, frozen=True, gc=False, forbid_unknown_fields=True, tag_field="type"
):
    """Base of all step types. Subclasses override the hooks they need."""

    def links(self) -> list[Link]:
        return []

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        """Templates (``{{ var }}``) in this step, with their paths."""
        return ()

    def variables_read(self) -> Iterable[tuple[FieldPath, str]]:
        """Variables the step reads by name (not through a template)."""
        return ()

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        """Variables the step sets."""
        return ()

    def numbers(self) -> Iterable[tuple[FieldPath, str]]:
        """Phone numbers written literally in the step (templates are checked when the call runs)."""
        return ()

    def check(self, context: CheckContext) -> Iterable[Issue]:
        """Step-specific rules, with paths relative to the step."""
        return ()

    def enter(self, run: Run) -> str | None:
        """Run the step: emit actions; return the next step to run now, or None to wait (or when ended)."""
        raise NotImplementedError

    def resume(self, run: Run, event: Event) -> str | None:
        """Handle the event the step was waiting for. By default, an unexpected event replays the step."""
        return self.enter(run)


_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise_words(text: str) -> str:
    return " ".join(_WORD.sub(" ", text.casefold()).split())


def speech_matches(said: str, phrases: Iterable[str]) -> bool:
    """True when the caller's words contain one of `phrases` as whole words (case and punctuation ignored)."""
    heard = f" {normalise_words(said)} "
    return any(f" {normalise_words(phrase)} " in heard for phrase in phrases if normalise_words(phrase))
