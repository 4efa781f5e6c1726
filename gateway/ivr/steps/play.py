"""`play`: play an audio file or URL, then continue."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.actions import Play
from gateway.ivr.problems import FieldPath, Issue
from gateway.ivr.steps.base import CheckContext, Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class PlayStep(StepBase, frozen=True, tag="play"):
    """Play audio (an https URL, or a file under ivr_flows/ such as audio/welcome.wav), then go to `next`."""

    url: Annotated[str, msgspec.Meta(min_length=1, description="https URL or a path relative to ivr_flows/")]
    next: StepRef
    loop: Annotated[int, msgspec.Meta(ge=1, le=10, description="How many times to play it")] = 1

    def links(self) -> list[Link]:
        return [Link(("next",), self.next, "auto", "next")]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("url",), self.url)]

    def check(self, context: CheckContext) -> Iterable[Issue]:
        return check_audio(self.url, ("url",), context)

    def enter(self, run: Run) -> str | None:
        run.emit(Play(url=run.text(self.url), loop=self.loop))
        return self.next


def check_audio(url: str, path: FieldPath, context: CheckContext) -> list[Issue]:
    """An audio reference is an http(s) URL, or a relative file that exists under the flows directory."""
    if url.startswith(("https://", "http://")) or "{{" in url:
        return []
    if "://" in url:
        return [Issue(path, f"unsupported audio address '{url}'", "use an https:// URL or a file path")]
    relative = PurePosixPath(url)
    if relative.is_absolute() or ".." in relative.parts:
        return [
            Issue(path, f"audio file '{url}' must be inside the flows directory", "e.g. audio/welcome.wav")
        ]
    if context.base_dir is not None and not (context.base_dir / relative).is_file():
        return [Issue(path, f"audio file '{url}' does not exist", f"put it at {context.base_dir / relative}")]
    return []
