"""record visibility rules per role and object type; merge pointers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = ("record_visibility_rules", "record_merges")


def upgrade() -> None:
    op.create_table(
        "record_visibility_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "visibility IN ('all', 'own')",
            name=op.f("ck_record_visibility_rules_visibility_known"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "role", "object_type", name=op.f("pk_record_visibility_rules")
        ),
    )
    op.create_table(
        "record_merges",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "merged_id", name=op.f("pk_record_merges")),
    )
    op.create_index(
        "ix_record_merges_tenant_id_survivor_id", "record_merges", ["tenant_id", "survivor_id"]
    )
    for table in NEW_TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in NEW_TENANT_TABLES:
        op.drop_table(table)
