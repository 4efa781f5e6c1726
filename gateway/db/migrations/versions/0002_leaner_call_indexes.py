"""leaner call indexes: drop the ones another index already serves; index only rooms that exist

Every new call and call event paid for these on the webhook hot paths: `ix_calls_project_id` is covered by
`ix_calls_project_created` (project first), `ix_call_events_call_id` by the (call_id, seq) unique constraint, and
`ix_calls_livekit_room` indexed a NULL for every call that never reached LiveKit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_calls_project_id", table_name="calls")
    op.drop_index("ix_call_events_call_id", table_name="call_events")
    op.drop_index("ix_calls_livekit_room", table_name="calls")
    op.create_index(
        "ix_calls_livekit_room",
        "calls",
        ["livekit_room"],
        unique=False,
        sqlite_where=sa.text("livekit_room IS NOT NULL"),
        postgresql_where=sa.text("livekit_room IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_calls_livekit_room", table_name="calls")
    op.create_index("ix_calls_livekit_room", "calls", ["livekit_room"], unique=False)
    op.create_index("ix_call_events_call_id", "call_events", ["call_id"], unique=False)
    op.create_index("ix_calls_project_id", "calls", ["project_id"], unique=False)
