"""records foundation: companies, contact links, custom fields, search columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_kit.db.migrations import enable_tenant_rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT_SEARCH_COLUMNS = ("first_name", "last_name", "email", "phone", "phone_e164")
COMPANY_SEARCH_COLUMNS = ("name", "domain", "industry")


def _search_text(*columns: str) -> str:
    # Frozen copy of crm_core.models.search_columns at this revision.
    return "lower(" + " || ' ' || ".join(f"coalesce({c}, '')" for c in columns) + ")"


def _timestamps() -> list[sa.Column]:
    return [
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


def _trigram_available() -> bool:
    # The embedded PostgreSQL of `make run` (pgserver) ships without contrib: there,
    # search works without trigram matching and its indexes (see crm_core.queries.fulltext).
    found = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    return found.scalar() is not None


# Every 3-character substring of a text as a tsvector: a substring query's trigrams
# (all present) are an index condition that `@@` can serve under row-level security,
# where LIKE cannot (see _mark_leakproof). Built from core functions only, so it works
# without pg_trgm too. It cannot raise for any input: substr/array_agg/array_to_tsvector
# see only non-empty, non-null strings, and the 10,000-character cap (far above any
# search_text) keeps the result under tsvector's 1 MB limit.
SEARCH_TRIGRAMS_FUNCTION = """
CREATE FUNCTION crm_search_trigrams(value text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(coalesce(array_agg(DISTINCT substr(t, i, 3)), '{}'))
    FROM (SELECT left(value, 10000) AS t) AS v, generate_series(1, length(t) - 2) AS i
$$
"""

# Functions the runtime role's searches need evaluated ahead of the RLS policy, so that
# their GIN indexes serve it. PostgreSQL applies a query's own condition before the
# policy (and so as an index condition) only when its function is LEAKPROOF: it must not
# reveal anything about its arguments, for instance through an error that depends on a
# row the policy would hide. Each one here is a pure comparison that cannot raise on
# any value of either argument (beyond out-of-memory, allocation limits on values of
# hundreds of megabytes, the stack-depth limit on absurdly nested tsquery or jsonb, or a
# cancel: none says anything about a row's content). The mark is per database (each
# has its own pg_catalog), so it holds in crm-core's database only:
#   ts_match_vq                 tsvector @@ tsquery (words; the trigram substring check)
#   jsonb_contains              jsonb @> jsonb (custom field eq/in)
#   crm_search_trigrams         ours, above: total over all text
#   word_similarity_op          pg_trgm's `<%` (typo tolerance), and its commutator
#   word_similarity_commutator_op   `%>`, which the index scan runs
# Deliberately not marked: textlike/texticlike (LIKE/ILIKE) raise "LIKE pattern must not
# end with escape character" when the pattern argument, which can be a column, ends in
# a backslash; regex operators raise on invalid patterns. Substring search therefore
# uses crm_search_trigrams @@ as its index condition and LIKE only as the recheck.
# Setting LEAKPROOF needs a superuser. Where the migration role is not one (managed
# PostgreSQL), the migration goes on with a warning: search stays correct, but the
# runtime role's searches scan the tenant's rows (see crm-core's README).
LEAKPROOF_FUNCTIONS = (
    "ts_match_vq(tsvector, tsquery)",
    "jsonb_contains(jsonb, jsonb)",
    "crm_search_trigrams(text)",
)
TRIGRAM_LEAKPROOF_FUNCTIONS = (
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
)


def _mark_leakproof(functions: Sequence[str], *, leakproof: bool = True) -> None:
    setting = "LEAKPROOF" if leakproof else "NOT LEAKPROOF"
    statements = "\n".join(f"    ALTER FUNCTION {f} {setting};" for f in functions)
    op.execute(
        f"""
DO $$
BEGIN
{statements}
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'crm-core: cannot mark search functions {setting} (needs a superuser); '
        'searches stay correct but cannot use their indexes under row-level security';
END
$$
"""
    )


def _search_indexes(table: str, *, trigram: bool) -> None:
    op.create_index(f"ix_{table}_custom_fields", table, ["custom_fields"], postgresql_using="gin")
    op.create_index(f"ix_{table}_search_vector", table, ["search_vector"], postgresql_using="gin")
    op.create_index(
        f"ix_{table}_search_trigrams",
        table,
        [sa.text("crm_search_trigrams(search_text)")],
        postgresql_using="gin",
    )
    if not trigram:
        return
    op.create_index(
        f"ix_{table}_search_text_trgm",
        table,
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def _custom_fields_column() -> sa.Column:
    return sa.Column(
        "custom_fields",
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text("'{}'::jsonb"),
        nullable=False,
    )


def upgrade() -> None:
    trigram = _trigram_available()
    if trigram:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(SEARCH_TRIGRAMS_FUNCTION)
    _mark_leakproof(LEAKPROOF_FUNCTIONS + (TRIGRAM_LEAKPROOF_FUNCTIONS if trigram else ()))

    op.add_column(
        "contacts", sa.Column("phone_e164", sa.String(length=20), server_default="", nullable=False)
    )
    op.add_column("contacts", _custom_fields_column())
    for column in _search_columns(*CONTACT_SEARCH_COLUMNS):
        op.add_column("contacts", column)
    op.create_index(
        "ix_contacts_tenant_id_lower_email", "contacts", ["tenant_id", sa.text("lower(email)")]
    )
    op.create_index("ix_contacts_tenant_id_phone_e164", "contacts", ["tenant_id", "phone_e164"])
    op.create_index("ix_contacts_tenant_id_last_name", "contacts", ["tenant_id", "last_name"])
    _search_indexes("contacts", trigram=trigram)

    op.create_table(
        "companies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("industry", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _custom_fields_column(),
        *_search_columns(*COMPANY_SEARCH_COLUMNS),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_index(
        "ix_companies_tenant_id_created_at_id", "companies", ["tenant_id", "created_at", "id"]
    )
    op.create_index("ix_companies_tenant_id_domain", "companies", ["tenant_id", "domain"])
    op.create_index("ix_companies_tenant_id_industry", "companies", ["tenant_id", "industry"])
    _search_indexes("companies", trigram=trigram)

    op.create_table(
        "contact_companies",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_contact_companies_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_companies_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "company_id", name=op.f("pk_contact_companies")),
    )
    op.create_index(
        "ix_contact_companies_tenant_id_company_id",
        "contact_companies",
        ["tenant_id", "company_id"],
    )

    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("field_type", sa.String(length=30), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("default_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("relation_object_type", sa.String(length=50), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint(
            "tenant_id",
            "object_type",
            "key",
            name=op.f("uq_custom_field_definitions_tenant_id_object_type_key"),
        ),
    )
    for table in ("companies", "contact_companies", "custom_field_definitions"):
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_table("custom_field_definitions")
    op.drop_table("contact_companies")
    op.drop_table("companies")
    op.execute("DROP INDEX IF EXISTS ix_contacts_search_text_trgm")
    for index in (
        "ix_contacts_search_trigrams",
        "ix_contacts_tenant_id_last_name",
        "ix_contacts_search_vector",
        "ix_contacts_custom_fields",
        "ix_contacts_tenant_id_phone_e164",
        "ix_contacts_tenant_id_lower_email",
    ):
        op.drop_index(index, table_name="contacts")
    for column in ("search_vector", "search_text", "custom_fields", "phone_e164"):
        op.drop_column("contacts", column)
    trigram = (
        op.get_bind()
        .execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
        .scalar()
    )
    # Core functions go back to how PostgreSQL ships them; pg_trgm's with the extension.
    _mark_leakproof(LEAKPROOF_FUNCTIONS[:2], leakproof=False)
    if trigram:
        _mark_leakproof(TRIGRAM_LEAKPROOF_FUNCTIONS, leakproof=False)
    op.execute("DROP FUNCTION crm_search_trigrams(text)")
