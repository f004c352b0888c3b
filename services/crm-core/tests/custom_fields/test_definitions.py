"""The rule for changing and deleting a definition (see the README)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.custom_fields import service as custom_fields
from crm_core.custom_fields.schemas import CustomFieldCreate, CustomFieldUpdate, SelectOption
from crm_core.models import OutboxRecord
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound

from ..contacts.factories import create_contact
from .factories import define_field

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


def _options(*values: str) -> list[SelectOption]:
    return [SelectOption(value=v, label=v) for v in values]


async def _update(
    factory: Factory, tenant: uuid.UUID, definition_id: uuid.UUID, data: CustomFieldUpdate
) -> None:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        await custom_fields.update(
            session, object_type="contacts", definition_id=definition_id, data=data
        )


class TestCreate:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"key": "Bad Key"}, "key"),
            ({"field_type": "colour"}, "field_type"),
            ({"object_type": "planets"}, "object_type"),
            ({"label": ""}, "label"),
            ({"field_type": "single_select"}, "options"),
            ({"options": _options("a")}, "options"),
            ({"field_type": "boolean", "is_unique": True}, "is_unique"),
            ({"default_value": 5}, "default_value"),
            ({"field_type": "relation", "relation_object_type": "planets"}, "relation_object_type"),
        ],
    )
    async def test_invalid_definition_names_the_field(
        self, factory: Factory, tenant: uuid.UUID, changes: dict[str, object], field: str
    ) -> None:
        data = {"object_type": "contacts", "key": "k", "label": "K", "field_type": "text"}
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument) as caught:
                await custom_fields.create(session, data=CustomFieldCreate(**{**data, **changes}))  # type: ignore[arg-type]
        assert caught.value.details["field"] == field

    async def test_key_is_unique_per_object_type(self, factory: Factory, tenant: uuid.UUID) -> None:
        await define_field(factory, tenant=tenant, key="tier", field_type="text")
        await define_field(
            factory, tenant=tenant, key="tier", field_type="text", object_type="companies"
        )
        with pytest.raises(Conflict):
            await define_field(factory, tenant=tenant, key="tier", field_type="number")


class TestChange:
    async def test_adding_options_is_allowed_removing_one_in_use_is_not(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        definition = await define_field(
            factory, tenant=tenant, key="tags", field_type="multi_select", options=["a", "b"]
        )
        await create_contact(factory, tenant=tenant, custom_fields={"tags": ["a"]})
        await _update(
            factory, tenant, definition.id, CustomFieldUpdate(options=_options("a", "b", "c"))
        )
        await _update(factory, tenant, definition.id, CustomFieldUpdate(options=_options("a", "c")))
        with pytest.raises(Conflict) as caught:
            await _update(factory, tenant, definition.id, CustomFieldUpdate(options=_options("c")))
        assert caught.value.code == "option_in_use"

    async def test_compatible_type_change_only(self, factory: Factory, tenant: uuid.UUID) -> None:
        email = await define_field(factory, tenant=tenant, key="alt", field_type="email")
        await _update(factory, tenant, email.id, CustomFieldUpdate(field_type="text"))
        number = await define_field(factory, tenant=tenant, key="score", field_type="number")
        with pytest.raises(InvalidArgument) as caught:
            await _update(factory, tenant, number.id, CustomFieldUpdate(field_type="text"))
        assert caught.value.code == "incompatible_type_change"

    async def test_unique_turns_on_only_without_shared_values(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        definition = await define_field(factory, tenant=tenant, key="vat", field_type="text")
        await create_contact(factory, tenant=tenant, custom_fields={"vat": "X"})
        await create_contact(
            factory, tenant=tenant, email="b@example.com", custom_fields={"vat": "X"}
        )
        with pytest.raises(Conflict):
            await _update(factory, tenant, definition.id, CustomFieldUpdate(is_unique=True))

    async def test_update_bumps_version_and_writes_an_event(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        definition = await define_field(factory, tenant=tenant, key="tier", field_type="text")
        await _update(factory, tenant, definition.id, CustomFieldUpdate(label="Level"))
        async with unit_of_work(factory, tenant_id=tenant) as session:
            changed = await custom_fields.get(
                session, object_type="contacts", definition_id=definition.id
            )
        assert (changed.label, changed.version) == ("Level", definition.version + 1)
        async with unit_of_work(factory, tenant_id=None) as session:
            types = list(
                await session.scalars(
                    select(OutboxRecord.event_type).where(OutboxRecord.tenant_id == tenant)
                )
            )
        assert sorted(types) == ["crm_core.custom_field.created", "crm_core.custom_field.updated"]


class TestDelete:
    async def test_delete_removes_the_key_from_records(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        definition = await define_field(factory, tenant=tenant, key="tier", field_type="text")
        await define_field(factory, tenant=tenant, key="keep", field_type="text")
        contact = await create_contact(
            factory, tenant=tenant, custom_fields={"tier": "A", "keep": "k"}
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await custom_fields.delete(session, object_type="contacts", definition_id=definition.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            reloaded = await contacts.get(session, contact_id=contact.id)
            with pytest.raises(NotFound):
                await custom_fields.get(
                    session, object_type="contacts", definition_id=definition.id
                )
        assert reloaded.custom_fields == {"keep": "k"}


class TestTenantIsolation:
    async def test_another_tenants_definition_is_not_found(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        definition = await define_field(factory, tenant=tenant, key="tier", field_type="text")
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            assert await custom_fields.list_for(session, object_type="contacts") == []
            for call in (
                custom_fields.get(session, object_type="contacts", definition_id=definition.id),
                custom_fields.update(
                    session,
                    object_type="contacts",
                    definition_id=definition.id,
                    data=CustomFieldUpdate(label="x"),
                ),
                custom_fields.delete(session, object_type="contacts", definition_id=definition.id),
            ):
                with pytest.raises(NotFound):
                    await call
        # Nor can its values be written from the other tenant.
        with pytest.raises(InvalidArgument):
            await create_contact(factory, tenant=other_tenant, custom_fields={"tier": "A"})
