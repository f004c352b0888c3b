"""Lead conversion: a contact, optionally a company and a deal, in the caller's transaction.

Existing records are reused rather than duplicated: the contact by normalized email,
the company by domain. A reused record is only filled where it is empty, never
overwritten. Converting twice is refused (409); the lead keeps links to what it became.
Any failing step raises, and the edge's rollback drops everything written before it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.companies import service as companies
from crm_core.companies.repository import company_repository
from crm_core.companies.schemas import CompanyCreate
from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactCreate, ContactUpdate
from crm_core.deals import service as deals
from crm_core.events import outbox
from crm_core.leads import service as leads
from crm_core.leads.schemas import CONVERTED, LeadConversion
from crm_core.models import Lead
from crm_kit.context import current_context
from crm_kit.db.models import utcnow
from crm_kit.errors import Conflict, InvalidArgument

FILLED_CONTACT_FIELDS = ("first_name", "last_name", "phone")


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    contact_id: uuid.UUID
    contact_created: bool
    company_id: uuid.UUID | None = None
    company_created: bool = False
    deal_id: uuid.UUID | None = None


async def _company(
    session: AsyncSession, lead: Lead, owner: uuid.UUID | None
) -> tuple[uuid.UUID, bool]:
    """The company with the lead's domain, or a new one from its company name and domain."""
    if lead.domain:
        found = await company_repository.with_domain(session, lead.domain)
        if found:
            return found[0], False
    if not (lead.company_name or lead.domain):
        raise InvalidArgument(
            "the lead has no company name or domain to create a company from",
            code="company_required",
            field="create_company",
        )
    company = await companies.create(
        session,
        data=CompanyCreate(
            name=lead.company_name or lead.domain, domain=lead.domain, owner_id=owner
        ),
    )
    return company.id, True


async def _fill_contact(
    session: AsyncSession, lead: Lead, contact_id: uuid.UUID, company_id: uuid.UUID | None
) -> None:
    """Fills the matched contact's empty fields from the lead and links the company."""
    contact = await contacts.get(session, contact_id=contact_id)
    changes: dict[str, object] = {
        name: getattr(lead, name)
        for name in FILLED_CONTACT_FIELDS
        if getattr(lead, name) and not getattr(contact, name)
    }
    linked = (await contacts.company_ids(session, [contact]))[contact.id]
    company_ids = None
    if company_id is not None and company_id not in linked:
        company_ids = [*linked, company_id]
    if changes or company_ids is not None:
        await contacts.update(
            session,
            contact_id=contact.id,
            data=ContactUpdate(changes=changes, company_ids=company_ids),
        )


async def _contact(
    session: AsyncSession, lead: Lead, owner: uuid.UUID | None, company_id: uuid.UUID | None
) -> tuple[uuid.UUID, bool]:
    """The contact with the lead's email (filled where empty), or a new one."""
    found = (
        await contacts.find_duplicates(session, email=lead.email, phone="") if lead.email else []
    )
    if found:
        await _fill_contact(session, lead, found[0], company_id)
        return found[0], False
    contact = await contacts.create(
        session,
        data=ContactCreate(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            owner_id=owner,
            company_ids=[company_id] if company_id else [],
            allow_duplicate=True,
        ),
    )
    return contact.id, True


def _deal_name(lead: Lead) -> str:
    person = " ".join(p for p in (lead.first_name, lead.last_name) if p)
    return lead.company_name or person or lead.email


async def convert(
    session: AsyncSession, *, lead_id: uuid.UUID, options: LeadConversion
) -> Conversion:
    """Converts the lead; a second conversion is a Conflict (`lead_already_converted`)."""
    lead = await leads.get(session, lead_id=lead_id, lock=True)
    leads.check_version(lead, options.expected_version)
    if lead.status == CONVERTED:
        raise Conflict("the lead is already converted", code="lead_already_converted")
    owner = options.owner_id or lead.owner_id
    company_id, company_created = (
        await _company(session, lead, owner) if options.create_company else (None, False)
    )
    contact_id, contact_created = await _contact(session, lead, owner, company_id)
    deal_id = None
    if options.deal is not None:
        deal = await deals.create(
            session,
            data=options.deal.as_create(
                name=_deal_name(lead), owner_id=owner, company_id=company_id, contact_id=contact_id
            ),
        )
        deal_id = deal.id
    result = Conversion(lead, contact_id, contact_created, company_id, company_created, deal_id)
    await _mark_converted(session, result)
    return result


async def _mark_converted(session: AsyncSession, result: Conversion) -> None:
    lead = result.lead
    now = utcnow()
    lead.status = CONVERTED
    lead.converted_at = now
    lead.converted_contact_id = result.contact_id
    lead.converted_company_id = result.company_id
    lead.converted_deal_id = result.deal_id
    lead.updated_by = current_context().user_id
    lead.updated_at = now
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.lead.converted",
        tenant_id=lead.tenant_id,
        payload=events.LeadConverted(
            lead=leads.snapshot(lead),
            contact_id=str(result.contact_id),
            contact_created=result.contact_created,
            company_id=str(result.company_id) if result.company_id else "",
            company_created=result.company_created,
            deal_id=str(result.deal_id) if result.deal_id else "",
        ),
    )
