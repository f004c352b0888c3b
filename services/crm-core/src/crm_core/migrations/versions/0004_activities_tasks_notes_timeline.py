"""activities, tasks, notes, tags, record links and record changes (timeline)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TENANT_TABLES = (
    "activities",
    "tasks",
    "notes",
    "record_links",
    "tags",
    "record_tags",
    "record_changes",
)


def _authored_columns() -> list[sa.Column]:
    """Owner, authors, version, tenant and timestamps, as every record has."""
    return [
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def _items() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("participant_contact_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("participant_emails", postgresql.ARRAY(sa.Text()), nullable=False),
        *_authored_columns(),
        sa.CheckConstraint(
            "kind IN ('call', 'meeting', 'email')", name=op.f("ck_activities_kind_known")
        ),
        sa.CheckConstraint(
            "duration_seconds >= 0", name=op.f("ck_activities_duration_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index(
        "ix_activities_tenant_id_occurred_at_id", "activities", ["tenant_id", "occurred_at", "id"]
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "reminders",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        *_authored_columns(),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'cancelled')",
            name=op.f("ck_tasks_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_tenant_id_assignee_id_status_due_at",
        "tasks",
        ["tenant_id", "assignee_id", "status", "due_at"],
    )
    op.create_index("ix_tasks_tenant_id_due_at_id", "tasks", ["tenant_id", "due_at", "id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        *_authored_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index("ix_notes_tenant_id_created_at_id", "notes", ["tenant_id", "created_at", "id"])


def _links_and_tags() -> None:
    op.create_table(
        "record_links",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("item_type", sa.String(length=10), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "item_type IN ('activity', 'task', 'note')",
            name=op.f("ck_record_links_item_type_known"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "item_type",
            "item_id",
            "record_type",
            "record_id",
            name=op.f("pk_record_links"),
        ),
    )
    op.create_index(
        "ix_record_links_tenant_id_record_type_record_id",
        "record_links",
        ["tenant_id", "record_type", "record_id", "item_type"],
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
    )
    op.create_index(
        "uq_tags_tenant_id_lower_name", "tags", ["tenant_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "record_tags",
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_record_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tag_id", "record_type", "record_id", name=op.f("pk_record_tags")),
    )
    op.create_index(
        "ix_record_tags_tenant_id_record_type_record_id",
        "record_tags",
        ["tenant_id", "record_type", "record_id"],
    )


def _record_changes() -> None:
    op.create_table(
        "record_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_changes")),
    )
    op.create_index(
        "ix_record_changes_tenant_id_record_type_record_id_changed_at",
        "record_changes",
        ["tenant_id", "record_type", "record_id", "changed_at", "id"],
    )


def upgrade() -> None:
    _items()
    _links_and_tags()
    _record_changes()
    for table in NEW_TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(NEW_TENANT_TABLES):
        op.drop_table(table)
