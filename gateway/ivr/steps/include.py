"""`include` another flow like a subroutine; its `return` step comes back here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.ivr.steps.base import FlowRef, Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class IncludeStep(StepBase, frozen=True, tag="include"):
    """Run flow `flow` from its start; when it reaches a `return` step, continue at `next`."""

    flow: FlowRef
    next: StepRef

    def links(self) -> list[Link]:
        return [
            Link(("flow",), None, "include", f"include {self.flow}", flow=self.flow),
            Link(("next",), self.next, "after_include", "after include"),
        ]

    def enter(self, run: Run) -> str | None:
        return run.include(self.flow, self.next)


class ReturnStep(StepBase, frozen=True, tag="return"):
    """Leave an included flow: continue after the `include` step that ran it (hangs up, "completed", if none did)."""

    def enter(self, run: Run) -> str | None:
        return run.return_from_include()
