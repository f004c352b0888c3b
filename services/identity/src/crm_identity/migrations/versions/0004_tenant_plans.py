"""tenant plans

The billing plan of each tenant, set from billing.plan.changed: '' is the default
plan, and plan_changed_at (the event's changed_at) lets an older change lose.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("plan", sa.String(length=50), server_default="", nullable=False)
    )
    op.add_column(
        "tenants", sa.Column("plan_changed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("tenants", "plan_changed_at")
    op.drop_column("tenants", "plan")
