"""`branch`: go to the first case whose condition holds (variables, caller, business hours, holidays)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.conditions import (
    Condition,
    caller_numbers,
    condition_texts,
    condition_variables,
    describe,
    evaluate,
    nested,
    schedules_used,
)
from gateway.ivr.problems import FieldPath, Issue, did_you_mean
from gateway.ivr.steps.base import CheckContext, Link, StepBase, StepRef

if TYPE_CHECKING:
    from gateway.ivr.run import Run

_PREFIX = re.compile(r"^\+[0-9]{1,14}$")


class Case(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, kw_only=True):
    """When `when` holds, go to `goto`."""

    when: Condition
    goto: StepRef


class BranchStep(StepBase, frozen=True, tag="branch"):
    """Go to the first case whose `when` holds, otherwise to `otherwise`. Takes no time and says nothing."""

    cases: Annotated[list[Case], msgspec.Meta(min_length=1)]
    otherwise: StepRef

    def links(self) -> list[Link]:
        links = [
            Link(("cases", index, "goto"), case.goto, "auto", describe(case.when))
            for index, case in enumerate(self.cases)
        ]
        links.append(Link(("otherwise",), self.otherwise, "auto", "otherwise"))
        return links

    def _each(self) -> Iterable[tuple[FieldPath, Condition]]:
        return [(("cases", index, "when"), case.when) for index, case in enumerate(self.cases)]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        for path, condition in self._each():
            yield from condition_texts(condition, path)

    def variables_read(self) -> Iterable[tuple[FieldPath, str]]:
        for path, condition in self._each():
            yield from condition_variables(condition, path)

    def numbers(self) -> Iterable[tuple[FieldPath, str]]:
        for path, condition in self._each():
            yield from caller_numbers(condition, path)

    def check(self, context: CheckContext) -> Iterable[Issue]:
        for path, condition in self._each():
            for where, name in schedules_used(condition, path):
                if name not in context.schedules:
                    known = sorted(context.schedules)
                    hint = did_you_mean(name, known) or (
                        f"schedules: {', '.join(known)}"
                        if known
                        else "define it under `schedules:` at the top"
                    )
                    yield Issue(where, f"unknown schedule '{name}'", hint)
            for where, test in nested(condition, path):
                for index, prefix in enumerate(test.caller_starts_with or ()):
                    if not _PREFIX.match(prefix):
                        yield Issue(
                            (*where, "caller_starts_with", index),
                            f"'{prefix}' is not a number prefix",
                            "write it in E.164 form: + and digits, e.g. +44",
                        )

    def enter(self, run: Run) -> str | None:
        environment = run.condition_env()
        for case in self.cases:
            if evaluate(case.when, environment):
                return case.goto
        return self.otherwise
