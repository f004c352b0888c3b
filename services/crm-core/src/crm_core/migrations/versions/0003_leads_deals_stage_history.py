"""leads, deals, deal contacts, deal stage history; stage kinds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_SEARCH_COLUMNS = ("first_name", "last_name", "email", "phone", "company_name", "domain")
DEAL_SEARCH_COLUMNS = ("name",)
LEAD_SOURCES = ("web_form", "import", "referral", "manual", "api", "event", "other")
LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified", "converted")
NEW_TENANT_TABLES = ("leads", "deals", "deal_contacts", "deal_stage_history")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _search_text(*columns: str) -> str:
    # Frozen copy of crm_core.models.search_columns at this revision.
    return "lower(" + " || ' ' || ".join(f"coalesce({c}, '')" for c in columns) + ")"


def _search_columns(*columns: str) -> list[sa.Column]:
    text_sql = _search_text(*columns)
    return [
        sa.Column("search_text", sa.Text(), sa.Computed(text_sql, persisted=True), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(f"to_tsvector('simple', {text_sql})", persisted=True),
            nullable=True,
        ),
    ]


def _record_columns() -> list[sa.Column]:
    """Owner, authors, version, custom values, tenant and timestamps of every record."""
    return [
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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


def _trigram_available() -> bool:
    found = op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    return found.scalar() is not None


def _search_indexes(table: str, *, trigram: bool) -> None:
    op.create_index(f"ix_{table}_custom_fields", table, ["custom_fields"], postgresql_using="gin")
    op.create_index(f"ix_{table}_search_vector", table, ["search_vector"], postgresql_using="gin")
    if trigram:
        op.create_index(
            f"ix_{table}_search_text_trgm",
            table,
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def _fk(column: str, table: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _stage_kinds() -> None:
    op.add_column(
        "stages", sa.Column("kind", sa.String(length=10), server_default="open", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_stages_kind_known"), "stages", "kind IN ('open', 'won', 'lost')"
    )
    # The default pipeline's closing stages, created before kinds existed. RLS is forced,
    # so the owner lifts it for this one backfill across tenants.
    op.execute("ALTER TABLE stages NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE stages SET kind = 'won' WHERE name = 'Closed won' AND probability = 100")
    op.execute("UPDATE stages SET kind = 'lost' WHERE name = 'Closed lost' AND probability = 0")
    op.execute("ALTER TABLE stages FORCE ROW LEVEL SECURITY")


def _deals(trigram: bool) -> None:
    op.create_table(
        "deals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        *_record_columns(),
        *_search_columns(*DEAL_SEARCH_COLUMNS),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_deals_amount_not_negative")),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_deals_probability_percent")
        ),
        sa.CheckConstraint("status IN ('open', 'won', 'lost')", name=op.f("ck_deals_status_known")),
        _fk("pipeline_id", "deals", "pipelines", None),
        _fk("stage_id", "deals", "stages", None),
        _fk("company_id", "deals", "companies", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    op.create_index("ix_deals_tenant_id_created_at_id", "deals", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_deals_tenant_id_pipeline_id_stage_id", "deals", ["tenant_id", "pipeline_id", "stage_id"]
    )
    op.create_index("ix_deals_tenant_id_company_id", "deals", ["tenant_id", "company_id"])
    _search_indexes("deals", trigram=trigram)

    op.create_table(
        "deal_contacts",
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _fk("deal_id", "deal_contacts", "deals", "CASCADE"),
        _fk("contact_id", "deal_contacts", "contacts", "CASCADE"),
        sa.PrimaryKeyConstraint("deal_id", "contact_id", name=op.f("pk_deal_contacts")),
    )
    op.create_index(
        "ix_deal_contacts_tenant_id_contact_id", "deal_contacts", ["tenant_id", "contact_id"]
    )

    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage_id", sa.Uuid(), nullable=True),
        sa.Column("to_stage_id", sa.Uuid(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_by", sa.Uuid(), nullable=True),
        sa.Column("time_in_previous_stage_seconds", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _fk("deal_id", "deal_stage_history", "deals", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_history")),
    )
    op.create_index(
        "ix_deal_stage_history_tenant_id_deal_id_moved_at",
        "deal_stage_history",
        ["tenant_id", "deal_id", "moved_at"],
    )


def _leads(trigram: bool) -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_contact_id", sa.Uuid(), nullable=True),
        sa.Column("converted_company_id", sa.Uuid(), nullable=True),
        sa.Column("converted_deal_id", sa.Uuid(), nullable=True),
        *_record_columns(),
        *_search_columns(*LEAD_SEARCH_COLUMNS),
        sa.CheckConstraint(_one_of("source", LEAD_SOURCES), name=op.f("ck_leads_source_known")),
        sa.CheckConstraint(_one_of("status", LEAD_STATUSES), name=op.f("ck_leads_status_known")),
        _fk("converted_contact_id", "leads", "contacts", "SET NULL"),
        _fk("converted_company_id", "leads", "companies", "SET NULL"),
        _fk("converted_deal_id", "leads", "deals", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index("ix_leads_tenant_id_created_at_id", "leads", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_leads_tenant_id_lower_email", "leads", ["tenant_id", sa.text("lower(email)")]
    )
    op.create_index("ix_leads_tenant_id_status", "leads", ["tenant_id", "status"])
    _search_indexes("leads", trigram=trigram)


def upgrade() -> None:
    trigram = _trigram_available()
    _stage_kinds()
    _deals(trigram)
    _leads(trigram)
    for table in NEW_TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in ("leads", "deal_stage_history", "deal_contacts", "deals"):
        op.drop_table(table)
    op.drop_constraint(op.f("ck_stages_kind_known"), "stages", type_="check")
    op.drop_column("stages", "kind")
