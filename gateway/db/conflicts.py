"""What a unique-constraint violation means to the person who sent the request: the field and what to do."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

# (SQLite's "UNIQUE constraint failed: <columns>", PostgreSQL's constraint name) -> the API field and its owner.
_UNIQUE: tuple[tuple[str, str, str, str], ...] = (
    ("phone_numbers.e164", "uq_phone_numbers_e164", "number", "a phone number (across all projects)"),
    ("trunks.project_id, trunks.name", "uq_trunks_project_id_name", "name", "a trunk in this project"),
    ("agents.project_id, agents.name", "uq_agents_live_name", "name", "an agent in this project"),
    ("projects.slug", "uq_projects_slug", "slug", "a project"),
    ("projects.twilio_account_sid", "uq_projects_twilio_account_sid", "twilio_account_sid", "a project"),
)
_SQLITE_COLUMNS = re.compile(r"unique constraint failed: ([\w.]+(?:, [\w.]+)*)", re.IGNORECASE)
_POSTGRES_KEY = re.compile(r"key \((?:[\w\s]+, )*(\w+)\)=", re.IGNORECASE)


def describe_conflict(exc: IntegrityError) -> tuple[str, str | None]:
    """A problem `detail` for the violation and the request field it names (None when it is not a unique one)."""
    text = str(exc.orig)
    lowered = text.lower()
    for columns, constraint, field, owner in _UNIQUE:
        if columns in lowered or constraint in lowered:
            return (
                f"`{field}` must be unique for {owner}, and the value sent is already taken: choose another "
                f"{field}, or change or delete the object that has it. Nothing was written.",
                field,
            )
    if "foreign key" in lowered:
        return "A referenced object does not exist. Check the ids you sent. Nothing was written.", None
    column = _unique_column(text)
    if column:
        return (
            f"`{column}` must be unique and the value sent is already taken: choose another {column}. "
            "Nothing was written.",
            column,
        )
    return (
        "The change conflicts with an existing object (a name or value must be unique). Nothing was written.",
        None,
    )


def _unique_column(text: str) -> str | None:
    if found := _SQLITE_COLUMNS.search(text):
        return found.group(1).split(", ")[-1].rsplit(".", 1)[-1]
    if found := _POSTGRES_KEY.search(text):
        return found.group(1)
    return None
