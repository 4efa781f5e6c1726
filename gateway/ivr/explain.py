"""msgspec's validation errors in the terms of the people who edit flow files.

msgspec reports the first error with a JSON path, naming dict keys as ``[...]``; `locate` finds the keys,
`explain` rewrites the message with a hint, and `skip_past` gives data without the mistake so decoding can
go on to find the next one.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec
import msgspec.inspect as mi

from gateway.ivr.positions import ANY, SourceMap, members
from gateway.ivr.problems import FieldPath, Issue, did_you_mean

__all__ = ["explain", "locate", "skip_past"]

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


def locate(data: Any, kind: type[Any], error: msgspec.ValidationError) -> tuple[str, FieldPath]:
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


def explain(message: str, path: FieldPath, source: SourceMap, text: str, data: Any) -> Issue:
    """msgspec's message in the operator's terms, with a hint."""
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
    tags = [m for m in members(owner) if isinstance(m, mi.StructType) and m.tag is not None] if owner else []
    if tags and path[-1] == tags[0].tag_field:
        choices = [str(m.tag) for m in tags]
        label = "step type" if path[-1] == "type" else "kind"
    else:
        literals = [m for m in members(source.types.get(path, ANY)) if isinstance(m, mi.LiteralType)]
        choices = [str(choice) for literal in literals for choice in literal.values]
        label = "value"
    hint = did_you_mean(value, choices) or (f"choose one of: {', '.join(choices)}" if choices else None)
    return Issue(path, f"unknown {label} '{value}'", hint)


def skip_past(data: Any, issue: Issue, source: SourceMap) -> Any:
    """`data` past this mistake, to look for the next one; None when there is no way past it.

    A misspelt key is renamed to its suggestion (so the rest of its mapping is still checked), another
    unknown key dropped; any other mistake drops the innermost dict entry holding it (such as the step).
    """
    path = issue.path
    if issue.message.startswith("unknown key"):
        suggestion = re.match(r"did you mean '(.+)'\?", issue.hint or "")
        try:
            parent = _get(data, path[:-1])
        except (KeyError, IndexError, TypeError):  # the mistake is not where its path leads: stop here
            return None
        if not isinstance(parent, dict) or path[-1] not in parent:
            return None
        trimmed = {k: v for k, v in parent.items() if k != path[-1]}
        if suggestion and suggestion[1] not in parent:
            trimmed[suggestion[1]] = parent[path[-1]]
        return _replace(data, path[:-1], trimmed)
    for end in range(len(path), 0, -1):
        candidate = path[:end]
        if candidate not in source.dict_entries:
            continue
        try:
            parent = _get(data, candidate[:-1])
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(parent, dict) and candidate[-1] in parent:
            trimmed = {k: v for k, v in parent.items() if k != candidate[-1]}
            return _replace(data, candidate[:-1], trimmed)
    return None
