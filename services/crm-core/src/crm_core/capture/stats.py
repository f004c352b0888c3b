"""Counts of submissions per form and per campaign (utm source, medium, campaign)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.capture import forms
from crm_core.capture.repository import capture_form_repository


@dataclass(frozen=True)
class FormStats:
    form_id: uuid.UUID
    submissions: int
    leads_created: int
    attached_to_leads: int
    attached_to_contacts: int


@dataclass(frozen=True)
class CampaignStats:
    utm_source: str
    utm_medium: str
    utm_campaign: str
    submissions: int
    leads_created: int
    attached: int


async def for_form(session: AsyncSession, *, form_id: uuid.UUID) -> FormStats:
    form = await forms.get(session, form_id=form_id)
    counts = await capture_form_repository.form_counts(session, form.id)
    return FormStats(
        form_id=form.id,
        submissions=sum(counts.values()),
        leads_created=counts.get("lead_created", 0),
        attached_to_leads=counts.get("attached_to_lead", 0),
        attached_to_contacts=counts.get("attached_to_contact", 0),
    )


async def by_campaign(session: AsyncSession, *, form_id: uuid.UUID | None) -> list[CampaignStats]:
    """Grouped by source, medium and campaign, busiest first; one form's or all forms'."""
    if form_id is not None:
        await forms.get(session, form_id=form_id)  # another tenant's form answers 404
    rows = await capture_form_repository.campaign_counts(session, form_id)
    return [CampaignStats(*row) for row in rows]
