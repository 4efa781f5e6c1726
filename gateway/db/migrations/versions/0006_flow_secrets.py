"""flow secrets: values a project's IVR flows use by name in http steps, encrypted at rest

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_secrets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.Column("created_at", gateway.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_flow_secrets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_secrets")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_flow_secrets_project_id_name")),
    )
    with op.batch_alter_table("flow_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_secrets_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flow_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_secrets_project_id"))
    op.drop_table("flow_secrets")
