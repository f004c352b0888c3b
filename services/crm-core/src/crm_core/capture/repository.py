"""Every query of capture forms and their submissions."""

from __future__ import annotations

import uuid

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import CaptureForm, Contact, FormSubmission, Lead
from crm_core.permissions.visibility import EVERY_RECORD

# The GUC the capture_form_lookup policy reads (see migration 0007).
FORM_KEY_GUC = "app.capture_form_key"
MAX_CAMPAIGN_ROWS = 500


class CaptureFormRepository:
    async def tenant_of_key(self, session: AsyncSession, public_key: str) -> uuid.UUID | None:
        """The tenant owning the key (the session must carry FORM_KEY_GUC, no tenant)."""
        return await session.scalar(
            select(CaptureForm.tenant_id)
            .where(CaptureForm.public_key == public_key)
            .execution_options(skip_tenant_filter=True)
        )

    async def by_key(self, session: AsyncSession, public_key: str) -> CaptureForm | None:
        return await session.scalar(select(CaptureForm).where(CaptureForm.public_key == public_key))

    async def get(self, session: AsyncSession, form_id: uuid.UUID) -> CaptureForm | None:
        return await session.scalar(select(CaptureForm).where(CaptureForm.id == form_id))

    async def all(self, session: AsyncSession) -> list[CaptureForm]:
        query = select(CaptureForm).order_by(CaptureForm.created_at, CaptureForm.id)
        return list(await session.scalars(query))

    async def lead_by_email(self, session: AsyncSession, email: str) -> Lead | None:
        """The oldest lead with this email (any case), locked for the fill-in update."""
        query = (
            select(Lead)
            .where(func.lower(Lead.email) == email.lower())
            .order_by(Lead.created_at, Lead.id)
            .limit(1)
            .with_for_update()
            .execution_options(**EVERY_RECORD)
        )
        return await session.scalar(query)

    async def contact_id_by_email(self, session: AsyncSession, email: str) -> uuid.UUID | None:
        query = (
            select(Contact.id)
            .where(func.lower(Contact.email) == email.lower())
            .order_by(Contact.created_at, Contact.id)
            .limit(1)
            .execution_options(**EVERY_RECORD)
        )
        return await session.scalar(query)

    async def lock_email(self, session: AsyncSession, tenant: uuid.UUID, email: str) -> None:
        """Submissions with one email take turns, so two at once make one lead, not two."""
        key = f"capture:{tenant}:{email.lower()}"
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def form_counts(self, session: AsyncSession, form_id: uuid.UUID) -> dict[str, int]:
        query = (
            select(FormSubmission.outcome, func.count())
            .where(FormSubmission.form_id == form_id)
            .group_by(FormSubmission.outcome)
        )
        return {outcome: int(count) for outcome, count in (await session.execute(query)).all()}

    async def campaign_counts(
        self, session: AsyncSession, form_id: uuid.UUID | None
    ) -> list[tuple[str, str, str, int, int, int]]:
        """(source, medium, campaign, submissions, leads created, attached), busiest first."""
        created = func.sum((FormSubmission.outcome == "lead_created").cast(Integer))
        total = func.count()
        query = select(
            FormSubmission.utm_source,
            FormSubmission.utm_medium,
            FormSubmission.utm_campaign,
            total,
            created,
        ).group_by(
            FormSubmission.utm_source, FormSubmission.utm_medium, FormSubmission.utm_campaign
        )
        if form_id is not None:
            query = query.where(FormSubmission.form_id == form_id)
        query = query.order_by(
            total.desc(),
            FormSubmission.utm_source,
            FormSubmission.utm_medium,
            FormSubmission.utm_campaign,
        ).limit(MAX_CAMPAIGN_ROWS)
        rows = (await session.execute(query)).all()
        return [(s, m, c, int(n), int(k or 0), int(n) - int(k or 0)) for s, m, c, n, k in rows]


capture_form_repository = CaptureFormRepository()
