"""Custom values are validated on every write, per type, and named by their field."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactCreate, ContactUpdate
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument

from ..contacts.factories import create_contact
from .factories import define_field

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]

# (field type, options, accepted input, stored form, refused inputs)
CASES: list[tuple[str, list[str], Any, Any, list[Any]]] = [
    ("text", [], "hello", "hello", [5, "x" * 1001, "nul\x00"]),
    ("long_text", [], "y" * 5000, "y" * 5000, [True, "z" * 70000]),
    ("number", [], 42.0, 42, ["42", True, float("inf")]),
    ("decimal", [], "12.50", "12.50", ["twelve", [1], "NaN"]),
    (
        "currency",
        [],
        {"amount_minor": 1999.0, "currency": "eur"},
        {"amount_minor": 1999, "currency": "EUR"},
        [{"amount_minor": 19.5, "currency": "EUR"}, {"amount_minor": 1, "currency": "XYZ"}, 5],
    ),
    ("date", [], "2026-02-28", "2026-02-28", ["2026-02-30", "28/02/2026", 20260228]),
    (
        "datetime",
        [],
        "2026-02-28T10:00:00+02:00",
        "2026-02-28T08:00:00+00:00",
        ["2026-02-28T10:00:00", "yesterday"],
    ),
    ("boolean", [], True, True, ["true", 1]),
    ("single_select", ["gold", "silver"], "gold", "gold", ["bronze", ["gold"]]),
    (
        "multi_select",
        ["a", "b", "c"],
        ["c", "a"],
        ["a", "c"],
        ["a", ["a", "z"]],
    ),
    ("email", [], "Grace@Navy.Example", "grace@navy.example", ["not-an-email", 3]),
    ("phone", [], "+44 20 7946 0958", "+442079460958", ["12345", "+1 555 0100", "call me"]),
    ("url", [], "https://acme.example/x", "https://acme.example/x", ["ftp://a.b", "acme"]),
]


@pytest.mark.parametrize(
    ("field_type", "options", "accepted", "stored", "refused"),
    CASES,
    ids=[c[0] for c in CASES],
)
class TestTypes:
    async def test_value_is_stored_normalized(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        field_type: str,
        options: list[str],
        accepted: Any,
        stored: Any,
        refused: list[Any],
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="extra", field_type=field_type, options=options
        )
        contact = await create_contact(factory, tenant=tenant, custom_fields={"extra": accepted})
        assert contact.custom_fields == {"extra": stored}

    async def test_invalid_values_name_the_field(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        field_type: str,
        options: list[str],
        accepted: Any,
        stored: Any,
        refused: list[Any],
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="extra", field_type=field_type, options=options
        )
        for value in refused:
            with pytest.raises(InvalidArgument) as caught:
                await create_contact(factory, tenant=tenant, custom_fields={"extra": value})
            assert caught.value.details["field"] == "custom_fields.extra", value
            assert caught.value.code == "invalid_custom_field"


class TestRules:
    async def test_unknown_key_is_refused(self, factory: Factory, tenant: uuid.UUID) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await create_contact(factory, tenant=tenant, custom_fields={"nope": 1})
        assert caught.value.details["field"] == "custom_fields.nope"

    async def test_required_on_create_and_when_cleared(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="tier", field_type="text", required=True)
        with pytest.raises(InvalidArgument) as caught:
            await create_contact(factory, tenant=tenant)
        assert (caught.value.code, caught.value.details["field"]) == (
            "required",
            "custom_fields.tier",
        )
        contact = await create_contact(factory, tenant=tenant, custom_fields={"tier": "A"})
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument):
                await contacts.update(
                    session, contact_id=contact.id, data=ContactUpdate(custom_fields={"tier": None})
                )

    async def test_default_applies_on_create_only(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory,
            tenant=tenant,
            key="stage",
            field_type="single_select",
            options=["new", "old"],
            default_value="new",
        )
        contact = await create_contact(factory, tenant=tenant)
        assert contact.custom_fields == {"stage": "new"}
        explicit = await create_contact(
            factory, tenant=tenant, email="b@example.com", custom_fields={"stage": "old"}
        )
        assert explicit.custom_fields == {"stage": "old"}

    async def test_update_merges_and_null_clears(self, factory: Factory, tenant: uuid.UUID) -> None:
        await define_field(factory, tenant=tenant, key="a", field_type="text")
        await define_field(factory, tenant=tenant, key="b", field_type="number")
        contact = await create_contact(factory, tenant=tenant, custom_fields={"a": "x", "b": 1})
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await contacts.update(
                session,
                contact_id=contact.id,
                data=ContactUpdate(custom_fields={"a": None, "b": 2}),
            )
        assert updated.custom_fields == {"b": 2}
        assert updated.version == contact.version + 1

    async def test_unique_refuses_a_second_record_with_the_value(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="vat", field_type="text", is_unique=True)
        first = await create_contact(factory, tenant=tenant, custom_fields={"vat": "GB1"})
        with pytest.raises(Conflict) as caught:
            await create_contact(
                factory, tenant=tenant, email="b@example.com", custom_fields={"vat": "GB1"}
            )
        assert caught.value.details["candidates"] == [str(first.id)]
        # Re-saving the same record with its own value is no conflict.
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.update(
                session, contact_id=first.id, data=ContactUpdate(custom_fields={"vat": "GB1"})
            )

    async def test_unique_holds_under_concurrent_writes(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="vat", field_type="text", is_unique=True)

        async def attempt(n: int) -> bool:
            try:
                async with unit_of_work(factory, tenant_id=tenant) as session:
                    await contacts.create(
                        session,
                        data=ContactCreate(email=f"c{n}@example.com", custom_fields={"vat": "X"}),
                    )
            except Conflict:
                return False
            return True

        results = await asyncio.gather(*(attempt(n) for n in range(4)))
        assert sorted(results) == [False, False, False, True]

    async def test_unique_is_per_tenant(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        for t in (tenant, other_tenant):
            await define_field(factory, tenant=t, key="vat", field_type="text", is_unique=True)
            await create_contact(factory, tenant=t, custom_fields={"vat": "same"})

    async def test_relation_must_name_a_record_of_the_tenant(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory,
            tenant=tenant,
            key="referrer",
            field_type="relation",
            relation_object_type="contacts",
        )
        mine = await create_contact(factory, tenant=tenant)
        theirs = await create_contact(factory, tenant=other_tenant)
        linked = await create_contact(
            factory, tenant=tenant, email="b@example.com", custom_fields={"referrer": str(mine.id)}
        )
        assert linked.custom_fields == {"referrer": str(mine.id)}
        for value in (str(theirs.id), str(uuid.uuid4()), "not-an-id"):
            with pytest.raises(InvalidArgument) as caught:
                await create_contact(
                    factory, tenant=tenant, email="c@example.com", custom_fields={"referrer": value}
                )
            assert caught.value.details["field"] == "custom_fields.referrer"

    async def test_deleting_the_target_clears_relation_values(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory,
            tenant=tenant,
            key="referrer",
            field_type="relation",
            relation_object_type="contacts",
        )
        target = await create_contact(factory, tenant=tenant)
        linked = await create_contact(
            factory,
            tenant=tenant,
            email="b@example.com",
            custom_fields={"referrer": str(target.id)},
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.delete(session, contact_id=target.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            reloaded = await contacts.get(session, contact_id=linked.id)
        assert reloaded.custom_fields == {}
