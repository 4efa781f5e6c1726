"""`set`: give variables values (text with ``{{ variables }}``), then continue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.problems import FieldPath
from gateway.ivr.steps.base import Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run


class SetStep(StepBase, frozen=True, tag="set"):
    """Set each variable under `variables` to its text (values may use {{ other_variables }})."""

    variables: Annotated[
        dict[str, str], msgspec.Meta(min_length=1, examples=[{"greeting_name": "{{ customer_name }}"}])
    ]
    next: StepRef

    def links(self) -> list[Link]:
        return [Link(("next",), self.next, "auto", "next")]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("variables", name), value) for name, value in self.variables.items()]

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("variables", name), name) for name in self.variables]

    def enter(self, run: Run) -> str | None:
        values = {name: run.text(value) for name, value in self.variables.items()}
        run.vars.update(values)
        return self.next
