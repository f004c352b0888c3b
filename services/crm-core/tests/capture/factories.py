"""Small typed factories for capture form tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.capture import forms
from crm_core.capture import submissions as capture
from crm_core.capture.schemas import Attribution, FormField, FormSettings, Submission
from crm_core.capture.submissions import Outcome
from crm_core.models import CaptureForm
from crm_kit.db.session import unit_of_work

SITE = "https://www.shop.example"


def form_settings(**overrides: Any) -> FormSettings:
    values: dict[str, Any] = {
        "name": "Spring offer",
        "fields": [
            FormField("work_email", "Work email", "email", required=True, maps_to="email"),
            FormField("given_name", "First name", "text", maps_to="first_name"),
            FormField("phone", "Phone", "tel", maps_to="phone"),
        ],
        "allowed_origins": [SITE],
    }
    values.update(overrides)
    return FormSettings(**values)


async def create_form(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID, **overrides: Any
) -> CaptureForm:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await forms.create(session, settings=form_settings(**overrides))


async def submit(
    factory: async_sessionmaker[AsyncSession],
    form: CaptureForm,
    values: dict[str, str],
    *,
    origin: str = "",
    **attribution: str,
) -> Outcome:
    return await capture.submit(
        factory,
        submission=Submission(form.public_key, values, Attribution(**attribution), origin),
    )
