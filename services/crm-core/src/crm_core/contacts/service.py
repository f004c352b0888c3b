"""Contact use cases. Each takes the tenant-bound session, flushes, never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.contacts.repository import contact_repository, decode_cursor, encode_cursor
from crm_core.contacts.schemas import ContactCreate, ContactUpdate
from crm_core.events import outbox
from crm_core.models import Contact
from crm_kit.context import current_context
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument, NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ContactPage:
    contacts: list[Contact]
    next_cursor: str


def _snapshot(contact: Contact) -> events.ContactSnapshot:
    return events.ContactSnapshot(
        id=str(contact.id),
        tenant_id=str(contact.tenant_id),
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        owner_id=str(contact.owner_id) if contact.owner_id else "",
        version=contact.version,
        updated_at=to_timestamp(contact.updated_at),
    )


async def create(session: AsyncSession, *, data: ContactCreate) -> Contact:
    tenant = session_tenant(session)
    clean = data.cleaned()
    actor = current_context().user_id
    contact = Contact(
        id=new_id(),
        tenant_id=tenant,
        first_name=clean.first_name,
        last_name=clean.last_name,
        email=clean.email,
        phone=clean.phone,
        owner_id=clean.owner_id or actor,
        created_by=actor,
        updated_by=actor,
    )
    session.add(contact)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.contact.created",
        tenant_id=tenant,
        payload=events.ContactCreated(contact=_snapshot(contact)),
    )
    return contact


async def get(session: AsyncSession, *, contact_id: uuid.UUID) -> Contact:
    contact = await contact_repository.get(session, contact_id)
    if contact is None:
        raise NotFound("contact not found", code="contact_not_found")
    return contact


async def list_page(session: AsyncSession, *, limit: int, cursor: str) -> ContactPage:
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"limit must be 1..{MAX_PAGE_SIZE}", code="invalid_limit", field="limit"
        )
    size = limit or DEFAULT_PAGE_SIZE
    rows = await contact_repository.page(
        session, limit=size, after=decode_cursor(cursor) if cursor else None
    )
    more = len(rows) > size
    rows = rows[:size]
    return ContactPage(contacts=rows, next_cursor=encode_cursor(rows[-1]) if more else "")


async def update(session: AsyncSession, *, contact_id: uuid.UUID, data: ContactUpdate) -> Contact:
    contact = await get(session, contact_id=contact_id)
    if data.expected_version is not None and data.expected_version != contact.version:
        raise StaleVersion(
            "the contact changed since it was read",
            code="version_mismatch",
            version=contact.version,
        )
    changes = data.cleaned()
    changed = sorted(name for name, value in changes.items() if getattr(contact, name) != value)
    if not changed:
        return contact
    for name in changed:
        setattr(contact, name, changes[name])
    contact.updated_by = current_context().user_id
    try:
        await session.flush()
    except StaleDataError as exc:
        raise StaleVersion("the contact changed concurrently", code="version_mismatch") from exc
    outbox.add(
        session,
        event_type="crm_core.contact.updated",
        tenant_id=contact.tenant_id,
        payload=events.ContactUpdated(contact=_snapshot(contact), changed_fields=changed),
    )
    return contact


async def delete(session: AsyncSession, *, contact_id: uuid.UUID) -> None:
    contact = await get(session, contact_id=contact_id)
    await session.delete(contact)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.contact.deleted",
        tenant_id=contact.tenant_id,
        payload=events.ContactDeleted(contact_id=str(contact.id)),
    )
