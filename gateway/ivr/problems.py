"""What is wrong with a flow file, where, and what to do about it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

import msgspec

from gateway.errors import InvalidInput

__all__ = ["FlowInvalid", "FlowProblem", "Issue", "Severity", "did_you_mean", "errors_in"]

Severity: TypeAlias = Literal["error", "warning"]
FieldPath: TypeAlias = tuple[str | int, ...]


class FlowProblem(msgspec.Struct, frozen=True, gc=False):
    """One problem in one file, at a 1-based line and column. `str()` gives the lint line."""

    file: str
    line: int
    col: int
    step: str | None
    message: str
    hint: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"step '{self.step}': " if self.step else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {where}{self.message}{hint}"


class Issue(msgspec.Struct, frozen=True, gc=False):
    """A problem found on the typed flow, before it is placed in the file.

    `path` leads from the document root to the offending value (``("steps", "menu", "options", "1")``);
    `at_key` points at the key of that value rather than the value itself; `within` (a regular expression)
    points inside the value, at its first group (e.g. a variable inside a template).
    """

    path: FieldPath
    message: str
    hint: str | None = None
    severity: Severity = "error"
    at_key: bool = False
    within: str | None = None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'timeout'?"`` for the closest choice, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def errors_in(problems: Sequence[FlowProblem]) -> list[FlowProblem]:
    return [problem for problem in problems if problem.severity == "error"]


class FlowInvalid(InvalidInput):
    """A flow that cannot be served; `problems` says where and why (each one a lint line)."""

    def __init__(self, flow_id: str, problems: Sequence[FlowProblem]) -> None:
        errors = errors_in(problems)
        first = f": {errors[0]}" if errors else ""
        super().__init__(
            f"flow '{flow_id}' has {len(errors)} error(s){first}",
            field="text",
            extra={"problems": [msgspec.to_builtins(problem) for problem in problems]},
        )
        self.flow_id = flow_id
        self.problems = list(problems)
