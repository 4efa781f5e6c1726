"""keyed audit chain: audit trails outlive their projects; existing records are marked legacy

The audit tables lose their foreign keys to `projects` (deleting a project used to delete its audit trail), and
`audit_heads.legacy_seq` records, per project, up to which seq the chain was written with the unkeyed SHA-256:
records after it are HMAC-SHA256 with a key kept outside the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite rebuilds these two tables (batch mode); nothing references them, so the copy cascades nowhere.
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_logs_project_id_projects", type_="foreignkey")
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_heads_project_id_projects", type_="foreignkey")
        batch_op.add_column(
            sa.Column("legacy_seq", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.execute("UPDATE audit_heads SET legacy_seq = seq")


def downgrade() -> None:
    op.execute("DELETE FROM audit_logs WHERE project_id NOT IN (SELECT id FROM projects)")
    op.execute("DELETE FROM audit_heads WHERE project_id NOT IN (SELECT id FROM projects)")
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.drop_column("legacy_seq")
        batch_op.create_foreign_key(
            "fk_audit_heads_project_id_projects", "projects", ["project_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_audit_logs_project_id_projects", "projects", ["project_id"], ["id"], ondelete="CASCADE"
        )
