"""The values a field accepts, read from the request's declared types: for errors about a value not allowed."""

from __future__ import annotations

import enum
import re
from typing import Any

import msgspec.inspect as mi

__all__ = ["allowed_values"]

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def allowed_values(annotation: Any, path: str) -> list[str] | None:
    """The literal, enum or tag values the field at `path` (``target.type``, ``numbers[1]``) accepts."""
    try:
        info: mi.Type | None = mi.type_info(annotation)
    except (TypeError, ValueError):
        return None
    for name, index in _PART.findall(path):
        if info is None:
            return None
        tags = _tags(info, name) if name else None
        if tags is not None:
            return tags
        info = _child(info, name, int(index) if index else None)
    return _values(info) if info is not None else None


def _members(info: mi.Type) -> list[mi.Type]:
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        return [member for union in info.types for member in _members(union)]
    return [info]


def _tags(info: mi.Type, name: str) -> list[str] | None:
    structs = [m for m in _members(info) if isinstance(m, mi.StructType) and m.tag_field == name]
    return [str(m.tag) for m in structs] or None


def _child(info: mi.Type, name: str, index: int | None) -> mi.Type | None:
    for member in _members(info):
        if index is not None and isinstance(member, mi.ListType | mi.SetType | mi.FrozenSetType):
            return member.item_type
        if index is None and isinstance(member, mi.StructType):
            for field in member.fields:
                if name in (field.encode_name, field.name):
                    return field.type
        if index is None and isinstance(member, mi.DictType):
            return member.value_type
    return None


def _values(info: mi.Type) -> list[str] | None:
    values: list[str] = []
    for member in _members(info):
        if isinstance(member, mi.LiteralType):
            values.extend(str(value) for value in member.values)
        elif isinstance(member, mi.EnumType):
            values.extend(str(item.value) for item in member.cls if isinstance(item, enum.Enum))
    return values or None
