"""Every query on contacts. The session's tenant filter and RLS scope them all."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import Label, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Contact, ContactCompany
from crm_core.permissions.visibility import Audience, driver_values, driver_visible
from crm_core.records.registry import CONTACTS
from crm_kit.db.driver_reads import DriverQuery, RecordFields
from crm_kit.errors import InvalidArgument

DUPLICATE_CANDIDATES_MAX = 10


def encode_cursor(contact: Contact) -> str:
    raw = json.dumps([contact.created_at.isoformat(), str(contact.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, contact_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), uuid.UUID(contact_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("cursor is not valid", code="invalid_cursor", field="cursor") from exc


def _company_ids_of_contact() -> Label[list[uuid.UUID] | None]:
    """The contact's company ids, primary first, as one array column (NULL for none)."""
    ordered = aggregate_order_by(
        ContactCompany.company_id, ContactCompany.is_primary.desc(), ContactCompany.company_id
    )
    return (
        select(func.array_agg(ordered))
        .where(
            ContactCompany.contact_id == Contact.id,
            ContactCompany.tenant_id == Contact.tenant_id,
        )
        .scalar_subquery()
        .label("company_ids")
    )


# The API's hottest read, on the driver (crm_kit.db.driver_reads): the tenant is named
# explicitly, since the ORM's automatic filter does not run there; RLS filters too.
# So is the caller's visibility (permissions.visibility), in the same statement.
_CONTACT_COLUMNS = [
    prop.columns[0] for prop in Contact.__mapper__.column_attrs if not prop.deferred
]
_READ_CONTACT = DriverQuery.of(
    select(*_CONTACT_COLUMNS, _company_ids_of_contact()).where(
        Contact.id == bindparam("contact_id"),
        Contact.tenant_id == bindparam("tenant_id"),
        driver_visible(CONTACTS),
    )
)


class ContactRepository:
    async def get(self, session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
        return await session.scalar(select(Contact).where(Contact.id == contact_id))

    async def read_with_company_ids(
        self,
        connection: asyncpg.Connection,
        *,
        tenant_id: uuid.UUID,
        contact_id: uuid.UUID,
        audience: Audience,
    ) -> tuple[RecordFields, list[uuid.UUID]] | None:
        """The contact's columns (named as Contact's attributes) and its companies, in one
        round trip, if visible."""
        row = await _READ_CONTACT.fetchrow(
            connection, contact_id=contact_id, tenant_id=tenant_id, **driver_values(audience)
        )
        if row is None:
            return None
        return RecordFields(row), list(row["company_ids"] or ())

    async def page(
        self, session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[Contact]:
        """Up to limit + 1 contacts in (created_at, id) order, so the caller sees if more exist."""
        query = select(Contact).order_by(Contact.created_at, Contact.id).limit(limit + 1)
        if after is not None:
            query = query.where(tuple_(Contact.created_at, Contact.id) > tuple_(*after))
        return list(await session.scalars(query))

    async def duplicates(
        self, session: AsyncSession, *, email: str, phone_e164: str
    ) -> list[uuid.UUID]:
        """Contacts with the same email (ignoring case) or the same E.164 phone."""
        matches = []
        if email:
            matches.append(func.lower(Contact.email) == email.lower())
        if phone_e164:
            matches.append(Contact.phone_e164 == phone_e164)
        if not matches:
            return []
        query = (
            select(Contact.id)
            .where(or_(*matches))
            .order_by(Contact.created_at, Contact.id)
            .limit(DUPLICATE_CANDIDATES_MAX)
        )
        return list(await session.scalars(query))


contact_repository = ContactRepository()
