"""Public submissions: the attach rule, attribution, honeypot, origins, stats, tenants."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.capture import forms, stats
from crm_core.capture import submissions as capture
from crm_core.capture.schemas import FormField
from crm_core.leads import service as leads
from crm_core.models import CaptureForm, FormSubmission, Lead, OutboxRecord
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied

from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from ..leads.factories import create_lead
from .factories import SITE, create_form, submit

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]
SPRING = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}


async def _leads(factory: Factory, tenant: uuid.UUID) -> list[Lead]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return list(await session.scalars(select(Lead).order_by(Lead.created_at)))


async def _submissions(factory: Factory, tenant: uuid.UUID) -> list[FormSubmission]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return list(await session.scalars(select(FormSubmission)))


class TestNewLead:
    async def test_creates_a_web_form_lead_with_its_first_touch(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        outcome = await submit(
            factory,
            form,
            {"work_email": "Lin@Prospect.example", "given_name": "Lin", "extra": "ignored"},
            origin=SITE,
            referrer="https://search.example/?q=crm",
            landing_url=f"{SITE}/spring?utm_campaign=spring",
            utm_term="crm\x00 tool",
            **SPRING,
        )
        assert outcome.thank_you_message == form.thank_you_message
        [lead] = await _leads(factory, tenant)
        assert (lead.email, lead.first_name, lead.source) == (
            "Lin@prospect.example",
            "Lin",
            "web_form",
        )
        assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
            "newsletter",
            "email",
            "spring",
        )
        assert (lead.utm_term, lead.referrer) == ("crm tool", "https://search.example/?q=crm")
        assert lead.landing_url == f"{SITE}/spring?utm_campaign=spring"
        assert lead.capture_form_id == form.id
        [recorded] = await _submissions(factory, tenant)
        assert (recorded.outcome, recorded.lead_id, recorded.utm_campaign) == (
            "lead_created",
            lead.id,
            "spring",
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            types = set(await session.scalars(select(OutboxRecord.event_type)))
        assert {"crm_core.lead.created", capture.SUBMISSION_EVENT} <= types

    async def test_attribution_filters_leads(self, factory: Factory, tenant: uuid.UUID) -> None:
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "a@x.example"}, **SPRING)
        await submit(factory, form, {"work_email": "b@x.example"}, utm_campaign="autumn")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await leads.search_page(
                session,
                params=SearchParams(
                    filter_groups=[[Filter("utm_campaign", "eq", "spring", has_value=True)]]
                ),
            )
        assert [lead.email for lead in page.rows] == ["a@x.example"]

    async def test_non_http_urls_are_dropped_and_long_values_clipped(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        await submit(
            factory,
            form,
            {"work_email": "c@x.example"},
            referrer="javascript:alert(1)",
            utm_source="s" * 500,
        )
        [lead] = await _leads(factory, tenant)
        assert (lead.referrer, lead.utm_source) == ("", "s" * 200)

    async def test_custom_field_values_are_typed(self, factory: Factory, tenant: uuid.UUID) -> None:
        await define_field(
            factory, tenant=tenant, key="budget", field_type="number", object_type="leads"
        )
        form = await create_form(
            factory,
            tenant=tenant,
            fields=[
                FormField("email", "Email", "email", required=True, maps_to="email"),
                FormField("budget", "Budget", "number", maps_to="custom_fields.budget"),
            ],
        )
        await submit(factory, form, {"email": "d@x.example", "budget": "1200"})
        [lead] = await _leads(factory, tenant)
        assert lead.custom_fields == {"budget": 1200}
        with pytest.raises(InvalidArgument) as caught:
            await submit(factory, form, {"email": "e@x.example", "budget": "lots"})
        assert caught.value.details["field"] == "budget"

    async def test_values_take_their_custom_fields_type_not_the_inputs(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="seats", field_type="number", object_type="leads"
        )
        await define_field(
            factory, tenant=tenant, key="ref", field_type="text", object_type="leads"
        )
        form = await create_form(
            factory,
            tenant=tenant,
            fields=[
                FormField("email", "Email", "email", required=True, maps_to="email"),
                FormField("seats", "Seats", "text", maps_to="custom_fields.seats"),
                FormField("ref", "Reference", "number", maps_to="custom_fields.ref"),
            ],
        )

        await submit(factory, form, {"email": "f@x.example", "seats": "12", "ref": "0042"})

        [lead] = await _leads(factory, tenant)
        assert lead.custom_fields == {"seats": 12, "ref": "0042"}


class TestAttach:
    async def test_an_existing_lead_keeps_its_values_and_first_touch(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "lin@x.example", "given_name": "Lin"}, **SPRING)
        await submit(
            factory,
            form,
            {"work_email": "LIN@x.example", "given_name": "Other", "phone": "+1 555 0100"},
            utm_source="ads",
            utm_campaign="autumn",
        )
        [lead] = await _leads(factory, tenant)
        assert (lead.first_name, lead.phone) == ("Lin", "+1 555 0100")
        assert (lead.utm_source, lead.utm_campaign) == ("newsletter", "spring")
        outcomes = sorted(s.outcome for s in await _submissions(factory, tenant))
        assert outcomes == ["attached_to_lead", "lead_created"]

    async def test_a_lead_without_attribution_gets_the_first_touch(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        existing = await create_lead(factory, tenant=tenant, email="old@x.example")
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "Old@X.example"}, **SPRING)
        [lead] = await _leads(factory, tenant)
        assert (lead.id, lead.source, lead.utm_campaign, lead.capture_form_id) == (
            existing.id,
            "manual",
            "spring",
            form.id,
        )

    async def test_a_contact_gets_the_submission_and_no_lead_is_made(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant, email="ada@x.example")
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "ADA@x.example"}, **SPRING)
        assert await _leads(factory, tenant) == []
        [recorded] = await _submissions(factory, tenant)
        assert (recorded.outcome, recorded.contact_id, recorded.lead_id) == (
            "attached_to_contact",
            contact.id,
            None,
        )


class TestRefusals:
    async def test_a_filled_honeypot_answers_like_success_and_writes_nothing(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant, redirect_url="https://shop.example/ok")
        outcome = await submit(
            factory, form, {"work_email": "bot@x.example", "website_url": "http://spam.example"}
        )
        assert outcome.redirect_url == "https://shop.example/ok"
        assert await _leads(factory, tenant) == []
        assert await _submissions(factory, tenant) == []

    async def test_unknown_malformed_and_disabled_keys_are_not_found(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant, enabled=False)
        for key in (form.public_key, "pf_" + "A" * 32, "nope"):
            with pytest.raises(NotFound):
                await capture.public_form(factory, key)
        with pytest.raises(NotFound):
            await submit(factory, form, {"work_email": "a@x.example"})
        assert await _leads(factory, tenant) == []

    async def test_only_allowed_origins_may_submit(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        with pytest.raises(PermissionDenied):
            await submit(
                factory, form, {"work_email": "a@x.example"}, origin="https://evil.example"
            )
        await submit(factory, form, {"work_email": "a@x.example"}, origin=SITE)
        assert len(await _leads(factory, tenant)) == 1

    async def test_bad_input_names_the_form_field_and_writes_nothing(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        for values, field in (
            ({"given_name": "Lin"}, "work_email"),
            ({"work_email": "not-an-email"}, "work_email"),
            ({"work_email": "a@x.example", "phone": "call me"}, "phone"),
        ):
            with pytest.raises(InvalidArgument) as caught:
                await submit(factory, form, values)
            assert caught.value.details["field"] == field
        assert await _leads(factory, tenant) == []
        assert await _submissions(factory, tenant) == []


class TestStatsAndTenants:
    async def test_counts_per_form_and_campaign(self, factory: Factory, tenant: uuid.UUID) -> None:
        form = await create_form(factory, tenant=tenant)
        other = await create_form(factory, tenant=tenant, name="Other")
        await create_contact(factory, tenant=tenant, email="c@x.example")
        await submit(factory, form, {"work_email": "a@x.example"}, **SPRING)
        await submit(factory, form, {"work_email": "a@x.example"}, **SPRING)
        await submit(factory, form, {"work_email": "c@x.example"}, **SPRING)
        await submit(factory, form, {"work_email": "b@x.example"})
        await submit(factory, other, {"work_email": "z@x.example"}, **SPRING)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            counts = await stats.for_form(session, form_id=form.id)
            campaigns = await stats.by_campaign(session, form_id=form.id)
            every_form = await stats.by_campaign(session, form_id=None)
        assert (
            counts.submissions,
            counts.leads_created,
            counts.attached_to_leads,
            counts.attached_to_contacts,
        ) == (4, 2, 1, 1)
        assert [
            (c.utm_campaign, c.submissions, c.leads_created, c.attached) for c in campaigns
        ] == [
            ("spring", 3, 1, 2),
            ("", 1, 1, 0),
        ]
        assert [(c.utm_campaign, c.submissions) for c in every_form] == [("spring", 4), ("", 1)]

    async def test_a_key_reaches_only_its_own_tenant(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        await create_lead(factory, tenant=other_tenant, email="lin@x.example")
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "lin@x.example"}, **SPRING)
        [lead] = await _leads(factory, tenant)
        assert lead.utm_campaign == "spring"
        [theirs] = await _leads(factory, other_tenant)
        assert (theirs.utm_campaign, theirs.capture_form_id) == ("", None)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await stats.for_form(session, form_id=form.id)
            with pytest.raises(NotFound):
                await stats.by_campaign(session, form_id=form.id)
            assert await stats.by_campaign(session, form_id=None) == []

    async def test_without_the_key_no_tenantless_session_sees_a_form(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=None) as session:
            rows = await session.scalars(
                select(CaptureForm.id).execution_options(skip_tenant_filter=True)
            )
            assert list(rows) == []
        assert await capture.tenant_of_key(factory, form.public_key) == tenant

    async def test_deleting_a_form_keeps_its_leads_attribution(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        await submit(factory, form, {"work_email": "a@x.example"}, **SPRING)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await forms.delete(session, form_id=form.id)
        [lead] = await _leads(factory, tenant)
        assert (lead.utm_campaign, lead.capture_form_id) == ("spring", None)
        assert await _submissions(factory, tenant) == []
