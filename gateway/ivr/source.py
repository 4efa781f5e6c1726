"""Typed YAML with positions: decode a YAML file into msgspec types and say where each mistake is.

PyYAML composes the file into nodes that carry line and column. We build plain Python data from the nodes
guided by the target type (so ``+442071234567`` stays text where text is expected, and ``no`` is the word
"no", not false), remember where every value and key starts, and convert with msgspec. A msgspec error path
(``$.steps[...].timeout``) is resolved back to the node, and its message rewritten for people who edit the
file, with a hint where one helps.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
import yaml

from gateway.ivr.problems import FieldPath, FlowProblem, Issue, did_you_mean

__all__ = ["Decoded", "SourceMap", "decode_yaml", "place"]

T = TypeVar("T")
Mark = tuple[int, int]

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TEXT_TYPES = (mi.StrType, mi.LiteralType, mi.DateType, mi.DateTimeType, mi.TimeType)
_MAX_DEPTH = 64
_STR = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()
_ERROR_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")
_KIND_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "object": "a mapping (indented `key: value` lines)",
    "array": "a list (lines starting with '- ')",
    "null": "nothing",
}
_ANY = mi.AnyType()


@dataclass
class SourceMap:
    """Where values and keys start in the file (1-based line, column), by path from the document root."""

    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)
    types: dict[FieldPath, mi.Type] = field(default_factory=dict)
    dict_entries: set[FieldPath] = field(default_factory=set)

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


@dataclass
class Decoded(Generic[T]):
    value: T | None
    problems: list[FlowProblem]
    source: SourceMap


def place(issue: Issue, source: SourceMap, *, file: str, step_key: str | None) -> FlowProblem:
    """Turn an issue found on typed data into a problem at its line and column."""
    line, col = source.mark(issue.path, at_key=issue.at_key)
    step = None
    if step_key is not None and len(issue.path) >= 2 and issue.path[0] == step_key:
        step = str(issue.path[1])
    return FlowProblem(file, line, col, step, issue.message, issue.hint, issue.severity)


_TYPE_INFO: dict[object, mi.Type] = {}


def _type_info(kind: object) -> mi.Type:
    """msgspec's description of a type, computed once per type (it is costly)."""
    info = _TYPE_INFO.get(kind)
    if info is None:
        info = _TYPE_INFO[kind] = mi.type_info(kind)
    return info


def _unwrap(kind: mi.Type) -> mi.Type:
    while isinstance(kind, mi.Metadata):
        kind = kind.type
    return kind


def _members(kind: mi.Type) -> tuple[mi.Type, ...]:
    kind = _unwrap(kind)
    if isinstance(kind, mi.UnionType):
        return tuple(_unwrap(member) for member in kind.types)
    return (kind,)


class _Shape:
    """What the builder needs to know about an expected type, worked out once per type."""

    __slots__ = ("any", "entries", "fields", "item", "kind", "struct", "tag_field", "tagged", "text")

    def __init__(self, kind: mi.Type) -> None:
        self.kind = _unwrap(kind)
        members = _members(kind)
        self.text = any(isinstance(member, _TEXT_TYPES) for member in members)
        self.any = any(isinstance(member, mi.AnyType) for member in members)
        self.item: mi.Type = next(
            (m.item_type for m in members if isinstance(m, mi.ListType | mi.SetType)), _ANY
        )
        structs = [m for m in members if isinstance(m, mi.StructType)]
        tagged = [m for m in structs if m.tag_field is not None]
        self.tag_field = tagged[0].tag_field if len(structs) > 1 and tagged else None
        self.tagged = {m.tag: m for m in tagged}
        self.struct = structs[0] if len(structs) == 1 else None
        self.fields = _fields(self.struct) if self.struct is not None else {}
        self.entries = next((m.value_type for m in members if isinstance(m, mi.DictType)), None)


def _fields(struct: mi.StructType) -> dict[str, mi.Type]:
    return {field.encode_name: field.type for field in struct.fields}


_SHAPES: dict[int, tuple[mi.Type, _Shape]] = {}


def _shape(kind: mi.Type) -> _Shape:
    known = _SHAPES.get(id(kind))
    if known is None:
        known = _SHAPES[id(kind)] = (kind, _Shape(kind))
    return known[1]


class _Builder:
    """Plain data from YAML nodes, shaped by the expected type, recording positions on the way."""

    def __init__(self) -> None:
        self.source = SourceMap()
        self.issues: list[Issue] = []

    def build(self, node: yaml.Node, kind: mi.Type, path: FieldPath, depth: int = 0) -> Any:
        shape = _shape(kind)
        mark = node.start_mark
        self.source.values[path] = (mark.line + 1, mark.column + 1)
        self.source.types[path] = shape.kind
        if depth > _MAX_DEPTH:
            self.issues.append(Issue(path, "the document is nested too deeply"))
            return None
        if isinstance(node, yaml.ScalarNode):
            plain = not node.style
            if plain and node.tag == _NULL:
                return None
            if shape.text or not plain or not shape.any:
                return node.value
            return _native(node)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(child, shape.item, (*path, index), depth + 1)
                for index, child in enumerate(node.value)
            ]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, shape, path, depth)
        return None

    def _mapping(self, node: yaml.MappingNode, shape: _Shape, path: FieldPath, depth: int) -> dict[str, Any]:
        fields, entries = self._choose(node, shape, path)
        out: dict[str, Any] = {}
        keys = self.source.keys
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.append(Issue(path, "keys must be plain words, not lists or mappings"))
                continue
            key = key_node.value
            child_path = (*path, key)
            keys[child_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                self.issues.append(
                    Issue(child_path, f"duplicate key '{key}'", "each key may appear once here", at_key=True)
                )
            if fields is not None:
                value_kind = fields.get(key, _ANY)
            elif entries is not None:
                value_kind = entries
                self.source.dict_entries.add(child_path)
            else:
                value_kind = _ANY
            out[key] = self.build(value_node, value_kind, child_path, depth + 1)
        return out

    def _choose(
        self, node: yaml.MappingNode, shape: _Shape, path: FieldPath
    ) -> tuple[dict[str, mi.Type] | None, mi.Type | None]:
        """The fields of the struct a mapping decodes to (by its tag in a tagged union), or a dict's value type.

        (None, None) when neither is known (e.g. an unknown tag): values are read without a type.
        """
        if shape.tag_field is not None:
            tag = next(
                (
                    v.value
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == shape.tag_field
                ),
                None,
            )
            chosen = shape.tagged.get(tag)
            if chosen is None:
                return None, None
            self.source.types[path] = chosen
            return _shape(chosen).fields, None
        if shape.struct is not None:
            return shape.fields, None
        return None, shape.entries


def _native(node: yaml.ScalarNode) -> Any:
    """YAML's own reading of a plain scalar, except that only true/false are booleans (not yes/no/on/off)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    if tag == _INT:
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == _FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag == _BOOL and node.value.lower() in ("true", "false"):
        return node.value.lower() == "true"
    return node.value


class _Loader(yaml.CSafeLoader):
    """libyaml's parser, with scalars typed lazily: the builder reads them by the expected type instead."""

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _NULL if implicit[0] and value in _NULLS else _STR
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


def _parse_path(raw: str | None) -> list[str | int | None]:
    """``$.steps[...].options[0]`` -> ["steps", None, "options", 0] (None: an unnamed dict key)."""
    if not raw:
        return []
    parts: list[str | int | None] = []
    for name, index, _ in _PATH_PART.findall(raw[1:]):
        parts.append(name if name else int(index) if index else None)
    return parts


def _get(data: Any, path: FieldPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _replace(data: Any, path: FieldPath, value: Any) -> Any:
    """A copy of `data` with the value at `path` replaced (containers on the way are copied)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    container = copy.copy(data)
    container[head] = _replace(data[head], rest, value)
    return container


def _locate(data: Any, kind: type[Any], error: msgspec.ValidationError) -> tuple[str, FieldPath]:
    """The error's message and its concrete path, naming the dict keys msgspec leaves out (``[...]``)."""
    found = _ERROR_AT.match(str(error))
    message = found["message"] if found else str(error)
    parts = _parse_path(found["path"] if found else None)
    named: dict[int, str] = {}
    while None in parts:
        gap = parts.index(None)
        prefix = tuple(part for part in parts[:gap] if part is not None)
        entries = _get(data, prefix)
        named[gap] = "?"
        for key in entries:
            narrowed = _replace(data, prefix, {key: entries[key]})
            try:
                msgspec.convert(narrowed, kind, strict=False)
            except msgspec.ValidationError as narrowed_error:
                data = narrowed
                again = _ERROR_AT.match(str(narrowed_error))
                message = again["message"] if again else message
                parts = _parse_path(again["path"] if again else None)
                named[gap] = key
                break
        for index, key in named.items():
            if index < len(parts):
                parts[index] = key
    return message, tuple(part for part in parts if part is not None)


def _explain(message: str, path: FieldPath, builder: _Builder, text: str, data: Any) -> Issue:
    """msgspec's message in the operator's terms, with a hint."""
    source = builder.source
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        name = unknown[1]
        kind = source.types.get(path)
        allowed = sorted(f.encode_name for f in kind.fields) if isinstance(kind, mi.StructType) else []
        hint = did_you_mean(name, allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else None)
        return Issue((*path, name), f"unknown key '{name}'", hint, at_key=True)
    missing = re.match(r"Object missing required field `(.+)`", message)
    if missing:
        return Issue(path, f"missing required key '{missing[1]}'", f"add `{missing[1]}:` here", at_key=True)
    invalid = re.match(r"Invalid (?:enum )?value (.+)", message)
    if invalid:
        return _invalid_value(invalid[1].strip("'"), path, source)
    expected = re.match(r"Expected `([\w |]+)`, got `(\w+)`$", message)
    if expected:
        want = " or ".join(_KIND_WORDS.get(word, word) for word in expected[1].split(" | ") if word != "null")
        got = _KIND_WORDS.get(expected[2], expected[2])
        hint = None
        line = source.mark(path)[0]
        source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
        if expected[2] == "null" and "#" in source_line:
            hint = "'#' starts a comment in YAML: quote it, e.g. \"#\""
        elif expected[2] == "null":
            hint = "the value is empty: write it after the colon"
        try:
            value = _get(data, path)
        except (KeyError, IndexError, TypeError):
            value = None
        shown = f" '{value}'" if isinstance(value, str | int | float) and len(str(value)) <= 40 else ""
        return Issue(path, f"expected {want}, got {got}{shown}", hint)
    is_mapping = isinstance(source.types.get(path), mi.StructType)
    return Issue(path, message[0].lower() + message[1:] if message else "invalid value", at_key=is_mapping)


def _invalid_value(value: str, path: FieldPath, source: SourceMap) -> Issue:
    owner = source.types.get(path[:-1]) if path else None
    tags = [m for m in _members(owner) if isinstance(m, mi.StructType) and m.tag is not None] if owner else []
    if tags and path[-1] == tags[0].tag_field:
        choices = [str(m.tag) for m in tags]
        label = "step type" if path[-1] == "type" else "kind"
    else:
        literals = [m for m in _members(source.types.get(path, _ANY)) if isinstance(m, mi.LiteralType)]
        choices = [str(choice) for literal in literals for choice in literal.values]
        label = "value"
    hint = did_you_mean(value, choices) or (f"choose one of: {', '.join(choices)}" if choices else None)
    return Issue(path, f"unknown {label} '{value}'", hint)


def _yaml_problem(error: yaml.YAMLError, file: str, text: str) -> FlowProblem:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = error.problem or "invalid YAML"
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        hint = None
        if "\t" in line[: mark.column + 1]:
            hint = "indent with spaces, not tabs"
        elif "mapping values are not allowed" in problem:
            hint = "text containing ': ' must be in quotes"
        elif "could not find expected ':'" in problem or "expected <block end>" in problem:
            hint = "check the indentation of this line and the one before"
        return FlowProblem(file, mark.line + 1, mark.column + 1, None, f"YAML: {problem}", hint)
    return FlowProblem(file, 1, 1, None, f"YAML: {error}")


def decode_yaml(
    text: str | bytes, kind: type[T], *, file: str, step_key: str | None = None, max_errors: int = 50
) -> Decoded[T]:
    """Decode YAML `text` into `kind`, collecting every problem it can find with its position.

    After an error, the offending key (an unknown field, or the dict entry holding the bad value) is dropped
    and decoding retried, so one pass reports many mistakes. `value` is None when there were errors.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        return Decoded(None, [_yaml_problem(error, file, text)], SourceMap())
    builder = _Builder()
    if root is None:
        problem = FlowProblem(file, 1, 1, None, "the file is empty", "start with `start:` and `steps:`")
        return Decoded(None, [problem], builder.source)
    data = builder.build(root, _type_info(kind), ())
    issues = list(builder.issues)
    value: T | None = None
    for _ in range(max_errors):
        try:
            value = msgspec.convert(data, kind, strict=False)
            break
        except msgspec.ValidationError as error:
            message, path = _locate(data, kind, error)
            issue = _explain(message, path, builder, text, data)
            issues.append(issue)
            data = _without(data, issue, builder)
            if data is None:
                break
    problems = [place(issue, builder.source, file=file, step_key=step_key) for issue in issues]
    builder.source.types.clear()  # only needed to explain errors; keeping them slows the garbage collector
    builder.source.dict_entries.clear()
    if problems and any(problem.severity == "error" for problem in problems):
        value = None
    return Decoded(value, problems, builder.source)


def _without(data: Any, issue: Issue, builder: _Builder) -> Any:
    """`data` past this mistake, to look for the next one; None when there is no way past it.

    A misspelt key is renamed to its suggestion (so the rest of its mapping is still checked), another
    unknown key dropped; any other mistake drops the innermost dict entry holding it (such as the step).
    """
    path = issue.path
    if issue.message.startswith("unknown key"):
        suggestion = re.match(r"did you mean '(.+)'\?", issue.hint or "")
        parent = _get(data, path[:-1])
        trimmed = {k: v for k, v in parent.items() if k != path[-1]}
        if suggestion and suggestion[1] not in parent:
            trimmed[suggestion[1]] = parent[path[-1]]
        return _replace(data, path[:-1], trimmed)
    for end in range(len(path), 0, -1):
        candidate = path[:end]
        if candidate not in builder.source.dict_entries:
            continue
        try:
            parent = _get(data, candidate[:-1])
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(parent, dict) and candidate[-1] in parent:
            trimmed = {k: v for k, v in parent.items() if k != candidate[-1]}
            return _replace(data, candidate[:-1], trimmed)
    return None
