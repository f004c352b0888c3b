"""Every query on contacts. The session's tenant filter and RLS scope them all."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from sqlalchemy import ScalarSelect, Select, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Contact, ContactCompany
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


def _company_ids_of_contact() -> ScalarSelect[list[uuid.UUID] | None]:
    """The contact's company ids, primary first, as one array column (NULL for none)."""
    ordered = aggregate_order_by(
        ContactCompany.company_id, ContactCompany.is_primary.desc(), ContactCompany.company_id
    )
    return (
        select(func.array_agg(ordered))
        .where(ContactCompany.contact_id == Contact.id)
        .scalar_subquery()
    )


# Built once: the hottest read should not rebuild its statement per request.
_CONTACT_WITH_COMPANY_IDS: Select[tuple[Contact, list[uuid.UUID] | None]] = select(
    Contact, _company_ids_of_contact()
).where(Contact.id == bindparam("contact_id"))


class ContactRepository:
    async def get(self, session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
        return await session.scalar(select(Contact).where(Contact.id == contact_id))

    async def get_with_company_ids(
        self, session: AsyncSession, contact_id: uuid.UUID
    ) -> tuple[Contact, list[uuid.UUID]] | None:
        """The contact and its companies in one round trip: the API's hottest read."""
        row = (await session.execute(_CONTACT_WITH_COMPANY_IDS, {"contact_id": contact_id})).first()
        return None if row is None else (row[0], list(row[1] or ()))

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
