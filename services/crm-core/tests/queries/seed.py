"""A small dataset with one custom field of every type, shared by the query tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import Company, Contact

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field

FIELDS: dict[str, tuple[str, list[str]]] = {
    "nick": ("text", []),
    "score": ("number", []),
    "ratio": ("decimal", []),
    "deal": ("currency", []),
    "born": ("date", []),
    "seen": ("datetime", []),
    "vip": ("boolean", []),
    "tier": ("single_select", ["gold", "silver"]),
    "tags": ("multi_select", ["a", "b", "c"]),
    "alt_email": ("email", []),
    "mobile": ("phone", []),
    "site": ("url", []),
}

VALUES: dict[str, dict[str, Any]] = {
    "ann": {
        "nick": "Annie",
        "score": 10,
        "ratio": "1.5",
        "deal": {"amount_minor": 100, "currency": "EUR"},
        "born": "2000-01-01",
        "seen": "2026-01-01T00:00:00+00:00",
        "vip": True,
        "tier": "gold",
        "tags": ["a", "b"],
        "alt_email": "ann@x.example",
        "mobile": "+442079460958",
        "site": "https://ann.example",
    },
    "bob": {
        "nick": "bobby",
        "score": 20,
        "ratio": "2.25",
        "deal": {"amount_minor": 200, "currency": "USD"},
        "born": "1990-06-15",
        "seen": "2026-06-01T12:00:00+00:00",
        "vip": False,
        "tier": "silver",
        "tags": ["b"],
        "alt_email": "bob@y.example",
        "mobile": "+14155550123",
        "site": "https://bob.example",
    },
    "cid": {
        "nick": "Cid",
        "score": 30,
        "ratio": "-3",
        "deal": {"amount_minor": 300, "currency": "EUR"},
        "born": "2010-12-31",
        "seen": "2025-01-01T00:00:00+00:00",
        "vip": True,
        "tier": "silver",
        "tags": ["c"],
    },
    "dan": {},
}


@dataclass
class Seeded:
    contacts: dict[str, Contact]
    companies: dict[str, Company]

    def names(self, ids: list[uuid.UUID]) -> list[str]:
        by_id = {c.id: name for name, c in self.contacts.items()}
        return [by_id[i] for i in ids]


async def seed(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID) -> Seeded:
    """Contacts ann, bob, cid, dan (dan has no custom values); ann and bob work at
    companies in retail and software, cid at none."""
    for key, (field_type, options) in FIELDS.items():
        await define_field(factory, tenant=tenant, key=key, field_type=field_type, options=options)
    await define_field(
        factory, tenant=tenant, key="size", field_type="number", object_type="companies"
    )
    shop = await create_company(
        factory, tenant=tenant, name="Shop", industry="Retail", custom_fields={"size": 5}
    )
    soft = await create_company(
        factory, tenant=tenant, name="Soft", industry="Software", custom_fields={"size": 50}
    )
    links = {"ann": [shop.id], "bob": [soft.id, shop.id]}
    contacts = {}
    for name, values in VALUES.items():
        contacts[name] = await create_contact(
            factory,
            tenant=tenant,
            first_name=name,
            email=f"{name}@example.com",
            custom_fields=values,
            company_ids=links.get(name, []),
        )
    return Seeded(contacts, {"shop": shop, "soft": soft})
