"""`goto`: continue at another step, or in another flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.ivr.steps.base import FlowRef, Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class GotoStep(StepBase, frozen=True, tag="goto"):
    """Continue at `step` in this flow, or in flow `flow` (at its `step`, or its start). No way back."""

    step: StepRef | None = None
    flow: FlowRef | None = None

    def __post_init__(self) -> None:
        if self.step is None and self.flow is None:
            raise ValueError("a goto needs `step`, `flow`, or both")

    def links(self) -> list[Link]:
        if self.flow is not None:
            return [Link(("flow",), self.step, "auto", f"flow {self.flow}", flow=self.flow)]
        return [Link(("step",), self.step, "auto", "goto")]

    def enter(self, run: Run) -> str | None:
        if self.flow is not None:
            return run.enter_flow(self.flow, self.step)
        return self.step
