"""capture forms, their submissions, and first-touch attribution on leads

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
URL_COLUMNS = ("referrer", "landing_url")

# A visitor's submission names its form by public key alone, before any tenant is known:
# a transaction carrying app.capture_form_key may read exactly that form's row (as
# identity's API-key lookup does), and everything else runs bound to the form's tenant.
LOOKUP_POLICY = (
    "CREATE POLICY capture_form_lookup ON capture_forms FOR SELECT "
    "USING (public_key = NULLIF(current_setting('app.capture_form_key', true), ''))"
)


def _attribution_columns(*, with_defaults: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    default = {"server_default": ""} if with_defaults else {}
    return [
        *(sa.Column(c, sa.String(length=200), nullable=False, **default) for c in UTM_COLUMNS),
        *(sa.Column(c, sa.String(length=2048), nullable=False, **default) for c in URL_COLUMNS),
    ]


def upgrade() -> None:
    op.create_table(
        "capture_forms",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "allowed_origins",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("redirect_url", sa.String(length=2048), nullable=False),
        sa.Column("thank_you_message", sa.Text(), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), nullable=False),
        sa.Column("honeypot_field", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_forms")),
    )
    op.create_index(
        "ix_capture_forms_tenant_id_created_at_id",
        "capture_forms",
        ["tenant_id", "created_at", "id"],
    )
    op.create_index("ix_capture_forms_public_key", "capture_forms", ["public_key"], unique=True)
    enable_tenant_rls("capture_forms")
    op.execute(LOOKUP_POLICY)

    op.create_table(
        "form_submissions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        *_attribution_columns(with_defaults=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["capture_forms.id"],
            name=op.f("fk_form_submissions_form_id_capture_forms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_form_submissions_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_form_submissions_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submissions")),
    )
    op.create_index(
        "ix_form_submissions_tenant_id_form_id_submitted_at",
        "form_submissions",
        ["tenant_id", "form_id", "submitted_at"],
    )
    op.create_index(
        "ix_form_submissions_tenant_id_campaign",
        "form_submissions",
        ["tenant_id", "utm_source", "utm_medium", "utm_campaign"],
    )
    enable_tenant_rls("form_submissions")

    for column in _attribution_columns(with_defaults=True):
        op.add_column("leads", column)
    op.add_column("leads", sa.Column("capture_form_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_leads_capture_form_id_capture_forms"),
        "leads",
        "capture_forms",
        ["capture_form_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_leads_tenant_id_utm_campaign", "leads", ["tenant_id", "utm_campaign"])


def downgrade() -> None:
    op.drop_index("ix_leads_tenant_id_utm_campaign", table_name="leads")
    op.drop_constraint(op.f("fk_leads_capture_form_id_capture_forms"), "leads", type_="foreignkey")
    op.drop_column("leads", "capture_form_id")
    for column in (*UTM_COLUMNS, *URL_COLUMNS):
        op.drop_column("leads", column)
    op.drop_table("form_submissions")
    op.drop_table("capture_forms")
