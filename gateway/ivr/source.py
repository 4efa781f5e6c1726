"""Typed YAML with positions: decode a YAML file into msgspec types and say where each mistake is.

PyYAML composes the file into nodes that carry line and column. We build plain Python data from the nodes
guided by the target type (so ``+442071234567`` stays text where text is expected, and ``no`` is the word
"no", not false), remember where every value and key starts, and convert with msgspec. A msgspec error path
(``$.steps[...].timeout``) is resolved back to the node, and its message rewritten for people who edit the
file, with a hint where one helps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
import yaml

from gateway.ivr.explain import explain, locate, skip_past
from gateway.ivr.positions import ANY, SourceMap, members, place, unwrap
from gateway.ivr.problems import FieldPath, FlowProblem, Issue

__all__ = ["Decoded", "decode_yaml"]

T = TypeVar("T")

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


@dataclass
class Decoded(Generic[T]):
    value: T | None
    problems: list[FlowProblem]
    source: SourceMap


_TYPE_INFO: dict[object, mi.Type] = {}


def _type_info(kind: object) -> mi.Type:
    """msgspec's description of a type, computed once per type (it is costly)."""
    info = _TYPE_INFO.get(kind)
    if info is None:
        info = _TYPE_INFO[kind] = mi.type_info(kind)
    return info


class _Shape:
    """What the builder needs to know about an expected type, worked out once per type."""

    __slots__ = ("any", "entries", "fields", "item", "kind", "struct", "tag_field", "tagged", "text")

    def __init__(self, kind: mi.Type) -> None:
        self.kind = unwrap(kind)
        kinds = members(kind)
        self.text = any(isinstance(member, _TEXT_TYPES) for member in kinds)
        self.any = any(isinstance(member, mi.AnyType) for member in kinds)
        self.item: mi.Type = next(
            (m.item_type for m in kinds if isinstance(m, mi.ListType | mi.SetType)), ANY
        )
        structs = [m for m in kinds if isinstance(m, mi.StructType)]
        tagged = [m for m in structs if m.tag_field is not None]
        self.tag_field = tagged[0].tag_field if len(structs) > 1 and tagged else None
        self.tagged = {m.tag: m for m in tagged}
        self.struct = structs[0] if len(structs) == 1 else None
        self.fields = _fields(self.struct) if self.struct is not None else {}
        self.entries = next((m.value_type for m in kinds if isinstance(m, mi.DictType)), None)


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
                value_kind = fields.get(key, ANY)
            elif entries is not None:
                value_kind = entries
                self.source.dict_entries.add(child_path)
            else:
                value_kind = ANY
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
                    v.value if isinstance(v, yaml.ScalarNode) else None  # `type: [say]` names no type
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


_OPENERS = {
    "while parsing a flow sequence": ("[", "]", "list"),
    "while parsing a flow mapping": ("{", "}", "map"),
}
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?: |$)")


def _yaml_problem(error: yaml.YAMLError, file: str, text: str) -> FlowProblem:
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return FlowProblem(file, 1, 1, None, f"YAML: {error}")
    mark = error.problem_mark
    problem = error.problem or "invalid YAML"
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    line_no, column, hint = mark.line + 1, mark.column + 1, None
    opened = error.context_mark
    if "\t" in line[: mark.column + 1]:
        hint = "indent with spaces, not tabs"
    elif error.context in _OPENERS and opened is not None:
        opener, closer, shape = _OPENERS[error.context]
        problem = f"this '{opener}' is never closed"
        line_no, column = opened.line + 1, opened.column + 1
        hint = (
            f"close the {shape} with '{closer}', or quote the text if the '{opener}' belongs to it: a value "
            f"that starts with '{opener}' is read as a {shape}"
        )
    elif error.context == "while scanning a quoted scalar" and opened is not None:
        problem = "this quote is never closed"
        line_no, column = opened.line + 1, opened.column + 1
        hint = "end the text with the same quote it starts with"
    elif "mapping values are not allowed" in problem:
        key = _KEY_LINE.match(line)
        above = _line_above(lines, mark.line)
        above_key = _KEY_LINE.match(above) if above is not None else None
        if key and above_key and len(key["indent"]) > len(above_key["indent"]):
            column = len(key["indent"]) + 1
            problem = f"'{key['key']}:' is indented further than '{above_key['key']}:' on the line above"
            hint = (
                f"YAML reads it as part of that line's value: line '{key['key']}:' up with "
                f"'{above_key['key']}:', or quote the value if it is text containing ': '"
            )
        else:
            hint = "text containing ': ' must be in quotes"
    elif "could not find expected ':'" in problem or "expected <block end>" in problem:
        hint = "check the indentation of this line and the one before"
    return FlowProblem(file, line_no, column, None, f"YAML: {problem}", hint)


def _line_above(lines: list[str], index: int) -> str | None:
    for candidate in reversed(lines[:index]):
        if candidate.strip() and not candidate.lstrip().startswith("#"):
            return candidate
    return None


def decode_yaml(
    text: str | bytes, kind: type[T], *, file: str, step_key: str | None = None, max_errors: int = 50
) -> Decoded[T]:
    """Decode YAML `text` into `kind`, collecting every problem it can find with its position.

    After an error, decoding goes on past the mistake (see `explain.skip_past`), so one pass reports many
    mistakes. `value` is None when there were errors.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        return Decoded(None, [_yaml_problem(error, file, text)], SourceMap())
    builder = _Builder()
    builder.source.text = text
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
            message, path = locate(data, kind, error)
            issue = explain(message, path, builder.source, text, data)
            issues.append(issue)
            data = skip_past(data, issue, builder.source)
            if data is None:
                break
    problems = [place(issue, builder.source, file=file, step_key=step_key) for issue in issues]
    builder.source.types.clear()  # only needed to explain errors; keeping them slows the garbage collector
    builder.source.dict_entries.clear()
    if problems and any(problem.severity == "error" for problem in problems):
        value = None
    return Decoded(value, problems, builder.source)
