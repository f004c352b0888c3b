"""Company use cases. Each takes the tenant-bound session, flushes, never commits.

Deleting a company detaches its contacts (their links go, the contacts stay) and
clears relation values that point at it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.companies.repository import company_repository
from crm_core.companies.schemas import CompanyCreate, CompanyUpdate, normalize_domain
from crm_core.custom_fields.record_values import (
    RecordWrite,
    changed_keys,
    clear_references_to,
    validated_values,
)
from crm_core.events import outbox
from crm_core.merges.pointers import refuse_merged
from crm_core.models import Company
from crm_core.queries.search import Page, SearchParams, search
from crm_core.records.external_ids import flush_claiming_external_id
from crm_core.records.mappers import dict_to_struct
from crm_core.records.registry import COMPANIES
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp


def _snapshot(company: Company) -> events.CompanySnapshot:
    return events.CompanySnapshot(
        id=str(company.id),
        tenant_id=str(company.tenant_id),
        name=company.name,
        domain=company.domain,
        industry=company.industry,
        owner_id=str(company.owner_id) if company.owner_id else "",
        version=company.version,
        updated_at=to_timestamp(company.updated_at),
        custom_fields=dict_to_struct(company.custom_fields),
        external_id=company.external_id or "",
    )


async def find_duplicates(session: AsyncSession, *, domain: str) -> list[uuid.UUID]:
    """Companies with the same normalized domain (none for an empty domain)."""
    normalized = normalize_domain(domain)
    return await company_repository.with_domain(session, normalized) if normalized else []


async def create(session: AsyncSession, *, data: CompanyCreate) -> Company:
    tenant = session_tenant(session)
    clean = data.cleaned()
    if clean.domain and not clean.allow_duplicate:
        found = await company_repository.with_domain(session, clean.domain)
        if found:
            raise Conflict(
                "a company with this domain exists; set allow_duplicate to create it anyway",
                code="duplicate_company",
                candidates=[str(i) for i in found],
            )
    actor = current_context().user_id
    company_id = new_id()
    custom = await validated_values(
        session,
        RecordWrite(COMPANIES, {}, clean.custom_fields, record_id=company_id, creating=True),
    )
    company = Company(
        id=company_id,
        tenant_id=tenant,
        name=clean.name,
        domain=clean.domain,
        industry=clean.industry,
        owner_id=clean.owner_id or actor,
        created_by=actor,
        updated_by=actor,
        custom_fields=custom,
        external_id=clean.external_id or None,
    )
    session.add(company)
    await flush_claiming_external_id(session, label="company")
    outbox.add(
        session,
        event_type="crm_core.company.created",
        tenant_id=tenant,
        payload=events.CompanyCreated(company=_snapshot(company)),
    )
    return company


async def get(session: AsyncSession, *, company_id: uuid.UUID) -> Company:
    company = await company_repository.get(session, company_id)
    if company is None:
        await refuse_merged(session, object_type="companies", label="company", record_id=company_id)
        raise NotFound("company not found", code="company_not_found")
    return company


async def search_page(session: AsyncSession, *, params: SearchParams) -> Page:
    """Companies matching filters and a full-text query, in the requested sort."""
    return await search(session, spec=COMPANIES, params=params)


async def update(session: AsyncSession, *, company_id: uuid.UUID, data: CompanyUpdate) -> Company:
    company = await get(session, company_id=company_id)
    if data.expected_version is not None and data.expected_version != company.version:
        raise StaleVersion(
            "the company changed since it was read",
            code="version_mismatch",
            version=company.version,
        )
    changes = data.cleaned()
    # Queries first: autoflush must not write (and version) the company twice.
    domain = str(changes.get("domain", ""))
    if domain and domain != company.domain and not data.allow_duplicate:
        found = [
            i for i in await company_repository.with_domain(session, domain) if i != company.id
        ]
        if found:
            raise Conflict(
                "another company has this domain; set allow_duplicate to save it anyway",
                code="duplicate_company",
                candidates=[str(i) for i in found],
            )
    custom = await validated_values(
        session,
        RecordWrite(COMPANIES, company.custom_fields, data.custom_fields, company.id, False),
    )
    changed = sorted(name for name, value in changes.items() if getattr(company, name) != value)
    changed += changed_keys(company.custom_fields, custom)
    for name, value in changes.items():
        if getattr(company, name) != value:
            setattr(company, name, value)
    if custom != company.custom_fields:
        company.custom_fields = custom
    if not changed:
        return company
    company.updated_by = current_context().user_id
    company.updated_at = utcnow()
    try:
        await flush_claiming_external_id(session, label="company")
    except StaleDataError as exc:
        raise StaleVersion("the company changed concurrently", code="version_mismatch") from exc
    outbox.add(
        session,
        event_type="crm_core.company.updated",
        tenant_id=company.tenant_id,
        payload=events.CompanyUpdated(company=_snapshot(company), changed_fields=changed),
    )
    return company


async def delete(session: AsyncSession, *, company_id: uuid.UUID) -> None:
    """Deletes the company; its contacts stay, detached from it."""
    company = await get(session, company_id=company_id)
    detached = await company_repository.contact_ids(session, company.id)
    await session.delete(company)
    await session.flush()
    await clear_references_to(session, target=COMPANIES.name, record_id=company.id)
    outbox.add(
        session,
        event_type="crm_core.company.deleted",
        tenant_id=company.tenant_id,
        payload=events.CompanyDeleted(
            company_id=str(company.id), detached_contact_ids=[str(c) for c in detached]
        ),
    )
