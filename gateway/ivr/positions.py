"""Where things are in a YAML file: value and key positions by path, and placing problems there."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

import msgspec.inspect as mi

from gateway.ivr.problems import FieldPath, FlowProblem, Issue

__all__ = ["ANY", "Mark", "SourceMap", "members", "place", "unwrap"]

Mark = tuple[int, int]
ANY = mi.AnyType()


@dataclass
class SourceMap:
    """Where values and keys start in the file (1-based line, column), by path from the document root."""

    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)
    types: dict[FieldPath, mi.Type] = field(default_factory=dict)
    dict_entries: set[FieldPath] = field(default_factory=set)
    text: str = ""
    """The file's text, to point inside a value (`Issue.within`)."""
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def mark(self, path: FieldPath, *, at_key: bool = False) -> Mark:
        """Position of the value at `path` (or of its key), falling back to the nearest enclosing value."""
        current = tuple(path)
        while True:
            if at_key and current in self.keys:
                return self.keys[current]
            if current in self.values:
                return self.values[current]
            if not current:
                return (1, 1)
            current = current[:-1]

    def find(self, start: Mark, pattern: str) -> Mark | None:
        """Where `pattern` (its first group, if any) first matches at or after `start`, or None."""
        if not self.text:
            return None
        if not self._line_starts:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line, col = start
        if line > len(self._line_starts):
            return None
        found = re.compile(pattern).search(self.text, self._line_starts[line - 1] + col - 1)
        if found is None:
            return None
        index = found.start(1) if found.re.groups else found.start()
        row = bisect.bisect_right(self._line_starts, index)
        return row, index - self._line_starts[row - 1] + 1


def place(issue: Issue, source: SourceMap, *, file: str, step_key: str | None) -> FlowProblem:
    """Turn an issue found on typed data into a problem at its line and column."""
    line, col = source.mark(issue.path, at_key=issue.at_key)
    if issue.within is not None:
        line, col = source.find((line, col), issue.within) or (line, col)
    step = None
    if step_key is not None and len(issue.path) >= 2 and issue.path[0] == step_key:
        step = str(issue.path[1])
    return FlowProblem(file, line, col, step, issue.message, issue.hint, issue.severity)


def unwrap(kind: mi.Type) -> mi.Type:
    while isinstance(kind, mi.Metadata):
        kind = kind.type
    return kind


def members(kind: mi.Type) -> tuple[mi.Type, ...]:
    kind = unwrap(kind)
    if isinstance(kind, mi.UnionType):
        return tuple(unwrap(member) for member in kind.types)
    return (kind,)
