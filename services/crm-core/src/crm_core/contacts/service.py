"""Contact use cases. Each takes the tenant-bound session, flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.companies.links import set_contact_companies
from crm_core.companies.repository import company_repository
from crm_core.contacts.repository import contact_repository, decode_cursor, encode_cursor
from crm_core.contacts.schemas import ContactCreate, ContactUpdate
from crm_core.custom_fields.field_types import normalize_phone
from crm_core.custom_fields.record_values import (
    RecordWrite,
    changed_keys,
    clear_references_to,
    validated_values,
)
from crm_core.events import outbox
from crm_core.merges.pointers import refuse_merged, refuse_merged_on_driver
from crm_core.models import Contact
from crm_core.permissions.visibility import EVERYONE, Audience
from crm_core.queries.search import Page, SearchParams, search
from crm_core.records.external_ids import flush_claiming_external_id
from crm_core.records.mappers import dict_to_struct
from crm_core.records.registry import CONTACTS
from crm_kit.context import current_context
from crm_kit.db.driver_reads import RecordFields
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, InvalidArgument, NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ContactPage:
    contacts: list[Contact]
    next_cursor: str


async def company_ids(
    session: AsyncSession, contacts: Sequence[Contact]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each contact's companies, the primary first."""
    return await company_repository.links_of(session, [c.id for c in contacts])


async def _snapshot(session: AsyncSession, contact: Contact) -> events.ContactSnapshot:
    companies = (await company_ids(session, [contact]))[contact.id]
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
        custom_fields=dict_to_struct(contact.custom_fields),
        company_ids=[str(c) for c in companies],
        external_id=contact.external_id or "",
    )


async def find_duplicates(session: AsyncSession, *, email: str, phone: str) -> list[uuid.UUID]:
    """Contacts that look like the same person: same email (any case) or same E.164 phone."""
    return await contact_repository.duplicates(
        session, email=email, phone_e164=normalize_phone(phone) or ""
    )


async def _refuse_duplicates(session: AsyncSession, clean: ContactCreate) -> None:
    found = await find_duplicates(session, email=clean.email, phone=clean.phone)
    if found:
        raise Conflict(
            "a contact with this email or phone exists; set allow_duplicate to create it anyway",
            code="duplicate_contact",
            candidates=[str(i) for i in found],
        )


async def _refuse_changed_duplicates(
    session: AsyncSession, contact: Contact, changes: dict[str, Any]
) -> None:
    """An update giving the contact another contact's email or phone is a duplicate too.
    Only what changes is compared: a duplicate allowed before does not block the rest."""
    email = str(changes.get("email", contact.email))
    phone = str(changes.get("phone_e164", contact.phone_e164))
    found = await contact_repository.duplicates(
        session,
        email=email if email.lower() != contact.email.lower() else "",
        phone_e164=phone if phone != contact.phone_e164 else "",
    )
    found = [i for i in found if i != contact.id]
    if found:
        raise Conflict(
            "another contact has this email or phone; set allow_duplicate to save it anyway",
            code="duplicate_contact",
            candidates=[str(i) for i in found],
        )


async def create(session: AsyncSession, *, data: ContactCreate) -> Contact:
    tenant = session_tenant(session)
    clean = data.cleaned()
    if not clean.allow_duplicate:
        await _refuse_duplicates(session, clean)
    actor = current_context().user_id
    contact_id = new_id()
    custom = await validated_values(
        session,
        RecordWrite(CONTACTS, {}, clean.custom_fields, record_id=contact_id, creating=True),
    )
    contact = Contact(
        id=contact_id,
        tenant_id=tenant,
        first_name=clean.first_name,
        last_name=clean.last_name,
        email=clean.email,
        phone=clean.phone,
        phone_e164=normalize_phone(clean.phone) or "",
        owner_id=clean.owner_id or actor,
        created_by=actor,
        updated_by=actor,
        custom_fields=custom,
        external_id=clean.external_id or None,
    )
    session.add(contact)
    await flush_claiming_external_id(session, label="contact")
    if clean.company_ids:
        await set_contact_companies(session, contact_id=contact.id, company_ids=clean.company_ids)
    outbox.add(
        session,
        event_type="crm_core.contact.created",
        tenant_id=tenant,
        payload=events.ContactCreated(contact=await _snapshot(session, contact)),
    )
    return contact


async def get(session: AsyncSession, *, contact_id: uuid.UUID) -> Contact:
    contact = await contact_repository.get(session, contact_id)
    if contact is None:
        await refuse_merged(session, object_type="contacts", label="contact", record_id=contact_id)
        raise NotFound("contact not found", code="contact_not_found")
    return contact


async def read(
    connection: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    contact_id: uuid.UUID,
    audience: Audience = EVERYONE,
) -> tuple[RecordFields, list[uuid.UUID]]:
    """The contact with its company ids (primary first), as the API shows it, if the
    audience may see it.

    Takes a driver connection from `crm_kit.db.driver_reads.tenant_read`: this is the
    API's hottest read, and the ORM would triple its latency."""
    found = await contact_repository.read_with_company_ids(
        connection, tenant_id=tenant_id, contact_id=contact_id, audience=audience
    )
    if found is None:
        await refuse_merged_on_driver(
            connection,
            tenant_id=tenant_id,
            object_type="contacts",
            label="contact",
            record_id=contact_id,
        )
        raise NotFound("contact not found", code="contact_not_found")
    return found


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


async def search_page(session: AsyncSession, *, params: SearchParams) -> Page:
    """Contacts matching filters and a full-text query, in the requested sort."""
    return await search(session, spec=CONTACTS, params=params)


async def _apply_changes(session: AsyncSession, contact: Contact, data: ContactUpdate) -> list[str]:
    """Sets what the update changes on the contact; the names of what changed.

    Every query runs before the contact is touched, so autoflush cannot write (and
    version) it twice.
    """
    changes: dict[str, Any] = data.cleaned()
    if "phone" in changes:
        changes["phone_e164"] = normalize_phone(str(changes["phone"])) or ""
    if not data.allow_duplicate:
        await _refuse_changed_duplicates(session, contact, changes)
    custom = await validated_values(
        session,
        RecordWrite(
            CONTACTS, contact.custom_fields, data.custom_fields, contact.id, creating=False
        ),
    )
    changed = sorted(name for name, value in changes.items() if getattr(contact, name) != value)
    changed += changed_keys(contact.custom_fields, custom)
    if data.company_ids is not None:
        before = (await company_ids(session, [contact]))[contact.id]
        await set_contact_companies(session, contact_id=contact.id, company_ids=data.company_ids)
        if (await company_ids(session, [contact]))[contact.id] != before:
            changed.append("company_ids")
    for name, value in changes.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
    if custom != contact.custom_fields:
        contact.custom_fields = custom
    return [name for name in changed if name != "phone_e164"]


async def update(session: AsyncSession, *, contact_id: uuid.UUID, data: ContactUpdate) -> Contact:
    contact = await get(session, contact_id=contact_id)
    if data.expected_version is not None and data.expected_version != contact.version:
        raise StaleVersion(
            "the contact changed since it was read",
            code="version_mismatch",
            version=contact.version,
        )
    changed = await _apply_changes(session, contact, data)
    if not changed:
        return contact
    contact.updated_by = current_context().user_id
    contact.updated_at = utcnow()
    try:
        await flush_claiming_external_id(session, label="contact")
    except StaleDataError as exc:
        raise StaleVersion("the contact changed concurrently", code="version_mismatch") from exc
    outbox.add(
        session,
        event_type="crm_core.contact.updated",
        tenant_id=contact.tenant_id,
        payload=events.ContactUpdated(
            contact=await _snapshot(session, contact), changed_fields=changed
        ),
    )
    return contact


async def delete(session: AsyncSession, *, contact_id: uuid.UUID) -> None:
    """Deletes the contact, its company links and relation values pointing at it."""
    contact = await get(session, contact_id=contact_id)
    await session.delete(contact)
    await session.flush()
    await clear_references_to(session, target=CONTACTS.name, record_id=contact.id)
    outbox.add(
        session,
        event_type="crm_core.contact.deleted",
        tenant_id=contact.tenant_id,
        payload=events.ContactDeleted(contact_id=str(contact.id)),
    )
