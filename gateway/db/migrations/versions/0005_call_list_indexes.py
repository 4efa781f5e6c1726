"""call list indexes: one (project, filter, id) index per documented filter of `GET /v1/calls`

`GET /v1/calls` pages by id (keyset) within a project; with a million calls, a filtered page read through
`ix_calls_project_created` alone scanned and sorted every call of the project. Each filter (none, status,
direction, number as caller or callee) now reads its page straight off an index in id order; `since`/`until`
also bound the id (call ids are time-ordered ULIDs).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_calls_project_page": ["project_id", "id"],
    "ix_calls_project_status_id": ["project_id", "status", "id"],
    "ix_calls_project_direction_id": ["project_id", "direction", "id"],
    "ix_calls_project_from_id": ["project_id", "from_e164", "id"],
    "ix_calls_project_to_id": ["project_id", "to_e164", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "calls", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="calls")
