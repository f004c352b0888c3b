"""Every query on contacts. The session's tenant filter and RLS scope them all."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Contact
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


class ContactRepository:
    async def get(self, session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
        return await session.scalar(select(Contact).where(Contact.id == contact_id))

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
