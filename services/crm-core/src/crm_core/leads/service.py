"""Lead use cases. Each takes the tenant-bound session, flushes, never commits.

Deleting a lead, converted or not, leaves the contact, company and deal it became.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.custom_fields.record_values import (
    RecordWrite,
    changed_keys,
    clear_references_to,
    validated_values,
)
from crm_core.events import outbox
from crm_core.leads.schemas import CONVERTED, LeadCreate, LeadUpdate
from crm_core.models import Lead
from crm_core.queries.search import Page, SearchParams, search
from crm_core.records.external_ids import flush_claiming_external_id
from crm_core.records.mappers import dict_to_struct
from crm_core.records.registry import LEADS
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp


def snapshot(lead: Lead) -> events.LeadSnapshot:
    return events.LeadSnapshot(
        id=str(lead.id),
        tenant_id=str(lead.tenant_id),
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        company_name=lead.company_name,
        domain=lead.domain,
        source=lead.source,
        status=lead.status,
        owner_id=str(lead.owner_id) if lead.owner_id else "",
        version=lead.version,
        updated_at=to_timestamp(lead.updated_at),
        custom_fields=dict_to_struct(lead.custom_fields),
        external_id=lead.external_id or "",
    )


async def create(session: AsyncSession, *, data: LeadCreate) -> Lead:
    tenant = session_tenant(session)
    values = data.cleaned()
    actor = current_context().user_id
    lead_id = new_id()
    custom = await validated_values(
        session, RecordWrite(LEADS, {}, data.custom_fields, record_id=lead_id, creating=True)
    )
    lead = Lead(
        id=lead_id,
        tenant_id=tenant,
        **{**values, "owner_id": values["owner_id"] or actor},
        created_by=actor,
        updated_by=actor,
        custom_fields=custom,
    )
    session.add(lead)
    await flush_claiming_external_id(session, label="lead")
    outbox.add(
        session,
        event_type="crm_core.lead.created",
        tenant_id=tenant,
        payload=events.LeadCreated(lead=snapshot(lead)),
    )
    return lead


async def get(session: AsyncSession, *, lead_id: uuid.UUID, lock: bool = False) -> Lead:
    query = select(Lead).where(Lead.id == lead_id)
    if lock:
        # Conversions of one lead take turns, so the second sees the first's result.
        query = query.with_for_update().execution_options(populate_existing=True)
    lead = await session.scalar(query)
    if lead is None:
        raise NotFound("lead not found", code="lead_not_found")
    return lead


def check_version(lead: Lead, expected: int | None) -> None:
    if expected is not None and expected != lead.version:
        raise StaleVersion(
            "the lead changed since it was read", code="version_mismatch", version=lead.version
        )


async def search_page(session: AsyncSession, *, params: SearchParams) -> Page:
    """Leads matching filters and a full-text query, in the requested sort."""
    return await search(session, spec=LEADS, params=params)


async def update(session: AsyncSession, *, lead_id: uuid.UUID, data: LeadUpdate) -> Lead:
    lead = await get(session, lead_id=lead_id)
    check_version(lead, data.expected_version)
    changes: dict[str, Any] = data.cleaned()
    if "status" in changes and lead.status == CONVERTED and changes["status"] != CONVERTED:
        raise Conflict("a converted lead stays converted", code="lead_converted", field="status")
    custom = await validated_values(
        session, RecordWrite(LEADS, lead.custom_fields, data.custom_fields, lead.id, False)
    )
    changed = sorted(name for name, value in changes.items() if getattr(lead, name) != value)
    changed += changed_keys(lead.custom_fields, custom)
    for name in changed:
        if name in changes:
            setattr(lead, name, changes[name])
    if custom != lead.custom_fields:
        lead.custom_fields = custom
    if not changed:
        return lead
    lead.updated_by = current_context().user_id
    lead.updated_at = utcnow()
    try:
        await flush_claiming_external_id(session, label="lead")
    except StaleDataError as exc:
        raise StaleVersion("the lead changed concurrently", code="version_mismatch") from exc
    outbox.add(
        session,
        event_type="crm_core.lead.updated",
        tenant_id=lead.tenant_id,
        payload=events.LeadUpdated(lead=snapshot(lead), changed_fields=changed),
    )
    return lead


async def delete(session: AsyncSession, *, lead_id: uuid.UUID) -> None:
    """Deletes the lead; what it was converted into stays."""
    lead = await get(session, lead_id=lead_id)
    await session.delete(lead)
    await session.flush()
    await clear_references_to(session, target=LEADS.name, record_id=lead.id)
    outbox.add(
        session,
        event_type="crm_core.lead.deleted",
        tenant_id=lead.tenant_id,
        payload=events.LeadDeleted(lead_id=str(lead.id)),
    )
