"""CSV import jobs, their row errors and work queue; external ids on records

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-27 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_TABLES = ("contacts", "companies", "leads", "deals")
NEW_TENANT_TABLES = ("import_jobs", "import_errors")


def upgrade() -> None:
    for table in RECORD_TABLES:
        op.add_column(table, sa.Column("external_id", sa.String(length=200), nullable=True))
        op.create_index(
            f"uq_{table}_tenant_id_external_id",
            table,
            ["tenant_id", "external_id"],
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
        )
    op.create_table(
        "import_jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("delimiter", sa.String(length=1), nullable=False),
        sa.Column("has_bom", sa.Boolean(), nullable=False),
        sa.Column("data_offset", sa.BigInteger(), nullable=False),
        sa.Column("columns", postgresql.JSONB(), nullable=False),
        sa.Column("suggested_mapping", postgresql.JSONB(), nullable=False),
        sa.Column("preview", postgresql.JSONB(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("match_key", sa.String(length=120), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("created_count", sa.BigInteger(), nullable=False),
        sa.Column("updated_count", sa.BigInteger(), nullable=False),
        sa.Column("failed_count", sa.BigInteger(), nullable=False),
        sa.Column("resume_offset", sa.BigInteger(), nullable=False),
        sa.Column("next_row_number", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        "ix_import_jobs_tenant_id_created_at_id", "import_jobs", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "import_errors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "row_number", "position", name=op.f("pk_import_errors")),
    )
    op.create_index(
        "ix_import_errors_tenant_id_job_id_row_number",
        "import_errors",
        ["tenant_id", "job_id", "row_number"],
    )
    op.create_table(
        "import_queue",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), server_default="", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_import_queue")),
    )
    op.create_index("ix_import_queue_queued_at", "import_queue", ["queued_at"])
    for table in NEW_TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("import_queue")
    for table in NEW_TENANT_TABLES:
        op.drop_table(table)
    for table in RECORD_TABLES:
        op.drop_index(f"uq_{table}_tenant_id_external_id", table_name=table)
        op.drop_column(table, "external_id")
