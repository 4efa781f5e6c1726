"""The small shared core of every control-plane resource: scoped lookup, pages, merge-patch, audited commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError

from gateway import audit
from gateway.db.conflicts import describe_conflict
from gateway.db.models import Base
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.web.allowed import allowed_values
from gateway.web.deps import Caller, Db

M = TypeVar("M", bound=Base)
T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_after: str | None = None
    """Pass as `after` to get the next page; null on the last page."""


async def scoped(db: Db, model: type[M], object_id: str, principal: Caller) -> M:
    """The object when it exists in the caller's project; otherwise 404 (never reveal other tenants)."""
    obj = await db.get(model, object_id)
    if (
        obj is None
        or getattr(obj, "project_id", None) != principal.project_id
        or getattr(obj, "deleted_at", None)
    ):
        raise NotFound(
            f"No {model.__tablename__.rstrip('s').replace('_', ' ')} with id {object_id!r} in this "
            f"project. List them to find the right id."
        )
    return obj


async def page(
    db: Db,
    stmt: Select[Any],
    model: type[M],
    limit: int,
    after: str | None,
    render: Callable[[M], T],
) -> Page[T]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.", field="limit")
    id_col: Any = model.id  # type: ignore[attr-defined]
    if after:
        stmt = stmt.where(id_col > after)
    rows: Sequence[Any] = (await db.scalars(stmt.order_by(id_col).limit(limit + 1))).all()
    items = [render(r) for r in rows[:limit]]
    next_after = str(rows[limit - 1].id) if len(rows) > limit else None
    return Page(items=items, next_after=next_after)


def merge_patch(current: dict[str, Any], patch: dict[str, Any], target: Any) -> Any:
    """RFC 7396 merge-patch of the stored input shape, validated as a whole by the create schema."""
    if not isinstance(patch, dict):
        raise InvalidInput("The body must be a JSON object of the fields to change.")
    merged = _merge(current, patch)
    try:
        return msgspec.convert(merged, target, strict=True)
    except msgspec.ValidationError as exc:
        field = str(exc).split("at `$.", 1)[1].rstrip("`") if "at `$." in str(exc) else None
        allowed = allowed_values(target, field) if field and str(exc).startswith("Invalid") else None
        choices = f" (allowed: {', '.join(repr(value) for value in allowed)})" if allowed else ""
        raise InvalidInput(f"{exc}{choices}. Fix that field and retry.", field=field) from None


def _merge(current: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(current, dict):
        return patch
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


async def commit_audited(
    db: Db,
    principal: Caller,
    *,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    project_id: str | None = None,
) -> None:
    """Write the audit record in the mutation's transaction, then commit both (or neither)."""
    try:
        await db.flush()
        await audit.append(
            db,
            project_id=project_id or principal.project_id,
            actor=principal.actor(),
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
        )
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        detail, field = describe_conflict(exc)
        raise Conflict(detail, field=field) from None
