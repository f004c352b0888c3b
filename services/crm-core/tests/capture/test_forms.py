"""Capture forms: settings validated, mappings checked against lead fields, tenant wall."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.capture import forms
from crm_core.capture.schemas import FormField, is_public_key
from crm_core.models import CaptureForm
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound

from ..custom_fields.factories import define_field
from .factories import SITE, create_form, form_settings

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]
EMAIL = FormField("email", "Email", "email", required=True, maps_to="email")


class TestCreate:
    async def test_defaults_key_and_normalized_origins(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(
            factory,
            tenant=tenant,
            allowed_origins=["HTTPS://Shop.Example:443/", "http://localhost:8080"],
        )
        assert is_public_key(form.public_key)
        assert form.allowed_origins == ["https://shop.example", "http://localhost:8080"]
        assert form.honeypot_field == "website_url"
        assert form.thank_you_message
        assert form.enabled
        other = await create_form(factory, tenant=tenant)
        assert other.public_key != form.public_key

    async def test_a_redirect_needs_no_thank_you_message(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant, redirect_url="https://shop.example/ok")
        assert (form.redirect_url, form.thank_you_message) == ("https://shop.example/ok", "")

    @pytest.mark.parametrize(
        ("overrides", "field", "code"),
        [
            ({"double_opt_in": True}, "double_opt_in", "messaging_unavailable"),
            ({"name": " "}, "name", "required"),
            ({"fields": []}, "fields", "invalid_form"),
            (
                {"fields": [FormField("email", "Email", "email", required=False, maps_to="email")]},
                "fields",
                "email_required",
            ),
            (
                {"fields": [EMAIL, FormField("x", "X", maps_to="owner_id")]},
                "fields.1.maps_to",
                "invalid_mapping",
            ),
            (
                {"fields": [EMAIL, FormField("utm_source", "S", maps_to="first_name")]},
                "fields.1.name",
                "invalid_form",
            ),
            (
                {"fields": [EMAIL, FormField("a", "A", "color", maps_to="first_name")]},
                "fields.1.input_type",
                "invalid_form",
            ),
            (
                {"fields": [EMAIL, FormField("email", "Again", maps_to="first_name")]},
                "fields",
                "invalid_form",
            ),
            (
                {"allowed_origins": ["https://shop.example/path"]},
                "allowed_origins.0",
                "invalid_origin",
            ),
            ({"allowed_origins": ["ftp://shop.example"]}, "allowed_origins.0", "invalid_origin"),
            ({"redirect_url": "javascript:alert(1)"}, "redirect_url", "invalid_form"),
            ({"honeypot_field": "work_email"}, "honeypot_field", "invalid_form"),
        ],
    )
    async def test_bad_settings_name_the_field(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        overrides: dict[str, object],
        field: str,
        code: str,
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await create_form(factory, tenant=tenant, **overrides)
        assert (caught.value.details["field"], caught.value.code) == (field, code)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert list(await session.scalars(select(CaptureForm))) == []

    async def test_custom_mappings_must_name_a_fillable_lead_field(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="budget", field_type="number", object_type="leads"
        )
        await define_field(
            factory, tenant=tenant, key="vip", field_type="boolean", object_type="leads"
        )
        await define_field(factory, tenant=tenant, key="hobby", field_type="text")  # contacts
        form = await create_form(
            factory,
            tenant=tenant,
            fields=[EMAIL, FormField("budget", "Budget", "number", maps_to="custom_fields.budget")],
        )
        assert form.fields[1]["maps_to"] == "custom_fields.budget"
        for key in ("vip", "hobby", "nope"):
            with pytest.raises(InvalidArgument) as caught:
                await create_form(
                    factory,
                    tenant=tenant,
                    fields=[EMAIL, FormField("x", "X", maps_to=f"custom_fields.{key}")],
                )
            assert caught.value.details["field"] == "fields.1.maps_to"


class TestManage:
    async def test_update_keeps_the_key_and_list_is_oldest_first(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        first = await create_form(factory, tenant=tenant)
        second = await create_form(factory, tenant=tenant, name="Webinar")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await forms.update(
                session,
                form_id=first.id,
                settings=form_settings(name="Summer offer", enabled=False, allowed_origins=[]),
            )
        assert (updated.public_key, updated.name, updated.enabled) == (
            first.public_key,
            "Summer offer",
            False,
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            listed = await forms.list_all(session)
        assert [f.id for f in listed] == [first.id, second.id]
        assert listed[0].allowed_origins == []

    async def test_another_tenants_form_is_not_found(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        form = await create_form(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await forms.get(session, form_id=form.id)
            with pytest.raises(NotFound):
                await forms.update(session, form_id=form.id, settings=form_settings())
            with pytest.raises(NotFound):
                await forms.delete(session, form_id=form.id)
            assert await forms.list_all(session) == []
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert (await forms.get(session, form_id=form.id)).allowed_origins == [SITE]
            await forms.delete(session, form_id=form.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound):
                await forms.get(session, form_id=form.id)
