"""Deal use cases. Each takes the tenant-bound session, flushes, never commits.

Setting a deal's stage is a stage move: the history records the time spent in the
previous stage and `deal.stage_changed` is published besides `deal.updated`. Deleting
a deal removes its contact links and history; a lead converted into it keeps its other
links. Deleting a company detaches its deals; deleting a contact unlinks it from deals.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.custom_fields.record_values import (
    RecordWrite,
    changed_keys,
    clear_references_to,
    validated_values,
)
from crm_core.deals.placement import check_company, checked_contacts, resolve_stage
from crm_core.deals.repository import deal_repository
from crm_core.deals.schemas import DEAL_FIELDS, DealCreate, DealUpdate, cleaned_create
from crm_core.deals.stage_moves import StageMove, enter_stage, first_entry
from crm_core.events import outbox
from crm_core.models import Deal, DealStageHistory
from crm_core.queries.search import Page, SearchParams, search
from crm_core.records.external_ids import flush_claiming_external_id
from crm_core.records.mappers import dict_to_struct
from crm_core.records.registry import DEALS
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp

TRACKED_FIELDS = (*DEAL_FIELDS, "pipeline_id", "stage_id")


async def contact_ids(
    session: AsyncSession, deals: Sequence[Deal]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    return await deal_repository.contact_ids_of(session, [d.id for d in deals])


async def _snapshot(session: AsyncSession, deal: Deal) -> events.DealSnapshot:
    contacts = (await contact_ids(session, [deal]))[deal.id]
    return events.DealSnapshot(
        id=str(deal.id),
        tenant_id=str(deal.tenant_id),
        name=deal.name,
        amount_minor=deal.amount_minor,
        currency=deal.currency,
        expected_close_date=deal.expected_close_date.isoformat()
        if deal.expected_close_date
        else "",
        owner_id=str(deal.owner_id) if deal.owner_id else "",
        pipeline_id=str(deal.pipeline_id),
        stage_id=str(deal.stage_id),
        probability=deal.probability,
        status=deal.status,
        company_id=str(deal.company_id) if deal.company_id else "",
        contact_ids=[str(c) for c in contacts],
        version=deal.version,
        updated_at=to_timestamp(deal.updated_at),
        custom_fields=dict_to_struct(deal.custom_fields),
        external_id=deal.external_id or "",
    )


async def create(session: AsyncSession, *, data: DealCreate) -> Deal:
    tenant = session_tenant(session)
    clean = cleaned_create(data)
    stage = await resolve_stage(session, pipeline_id=data.pipeline_id, stage_id=data.stage_id)
    await check_company(session, data.company_id)
    contacts = await checked_contacts(session, data.contact_ids)
    actor = current_context().user_id
    deal_id = new_id()
    custom = await validated_values(
        session, RecordWrite(DEALS, {}, data.custom_fields, record_id=deal_id, creating=True)
    )
    deal = Deal(
        id=deal_id,
        tenant_id=tenant,
        name=clean.name,
        amount_minor=clean.amount_minor,
        currency=clean.currency,
        expected_close_date=clean.expected_close_date,
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        probability=stage.probability if clean.probability is None else clean.probability,
        status=stage.kind,
        stage_entered_at=utcnow(),
        company_id=data.company_id,
        owner_id=data.owner_id or actor,
        created_by=actor,
        updated_by=actor,
        custom_fields=custom,
        external_id=clean.external_id,
    )
    session.add(deal)
    await flush_claiming_external_id(session, label="deal")
    session.add(first_entry(deal))
    await deal_repository.replace_contacts(session, deal_id=deal.id, contact_ids=contacts)
    outbox.add(
        session,
        event_type="crm_core.deal.created",
        tenant_id=tenant,
        payload=events.DealCreated(deal=await _snapshot(session, deal)),
    )
    return deal


async def get(session: AsyncSession, *, deal_id: uuid.UUID) -> Deal:
    deal = await deal_repository.get(session, deal_id)
    if deal is None:
        raise NotFound("deal not found", code="deal_not_found")
    return deal


async def search_page(session: AsyncSession, *, params: SearchParams) -> Page:
    """Deals matching filters and a full-text query, in the requested sort."""
    return await search(session, spec=DEALS, params=params)


async def _apply(
    session: AsyncSession, deal: Deal, data: DealUpdate
) -> tuple[list[str], StageMove | None]:
    """Sets what the update changes; the names of what changed and the stage move, if any.

    Every query runs before the deal is touched, so autoflush cannot version it twice.
    """
    changes: dict[str, Any] = data.cleaned()
    if "company_id" in changes:
        await check_company(session, changes["company_id"])
    stage = None
    if data.stage_id is not None and data.stage_id != deal.stage_id:
        stage = await resolve_stage(session, pipeline_id=None, stage_id=data.stage_id)
    custom = await validated_values(
        session, RecordWrite(DEALS, deal.custom_fields, data.custom_fields, deal.id, False)
    )
    changed: list[str] = []
    if data.contact_ids is not None:
        before = (await contact_ids(session, [deal]))[deal.id]
        wanted = await checked_contacts(session, data.contact_ids)
        if sorted(wanted) != before:
            await deal_repository.replace_contacts(session, deal_id=deal.id, contact_ids=wanted)
            changed.append("contact_ids")
    before_values = {name: getattr(deal, name) for name in TRACKED_FIELDS}
    move = None
    if stage is not None:
        move = enter_stage(session, deal, stage, probability=changes.pop("probability", None))
    for name, value in changes.items():
        if getattr(deal, name) != value:
            setattr(deal, name, value)
    changed += [n for n in TRACKED_FIELDS if getattr(deal, n) != before_values[n]]
    changed += changed_keys(deal.custom_fields, custom)
    if custom != deal.custom_fields:
        deal.custom_fields = custom
    return sorted(changed), move


async def update(session: AsyncSession, *, deal_id: uuid.UUID, data: DealUpdate) -> Deal:
    deal = await get(session, deal_id=deal_id)
    if data.expected_version is not None and data.expected_version != deal.version:
        raise StaleVersion(
            "the deal changed since it was read", code="version_mismatch", version=deal.version
        )
    changed, move = await _apply(session, deal, data)
    if not changed:
        return deal
    deal.updated_by = current_context().user_id
    deal.updated_at = utcnow()
    try:
        await flush_claiming_external_id(session, label="deal")
    except StaleDataError as exc:
        raise StaleVersion("the deal changed concurrently", code="version_mismatch") from exc
    snapshot = await _snapshot(session, deal)
    outbox.add(
        session,
        event_type="crm_core.deal.updated",
        tenant_id=deal.tenant_id,
        payload=events.DealUpdated(deal=snapshot, changed_fields=changed),
    )
    if move is not None:
        outbox.add(
            session,
            event_type="crm_core.deal.stage_changed",
            tenant_id=deal.tenant_id,
            payload=move.event(snapshot),
        )
    return deal


async def move(
    session: AsyncSession,
    *,
    deal_id: uuid.UUID,
    stage_id: uuid.UUID,
    expected_version: int | None = None,
) -> Deal:
    """Moves the deal to a stage (of any pipeline); to its own stage changes nothing."""
    return await update(
        session,
        deal_id=deal_id,
        data=DealUpdate(stage_id=stage_id, expected_version=expected_version),
    )


async def delete(session: AsyncSession, *, deal_id: uuid.UUID) -> None:
    """Deletes the deal with its contact links and stage history."""
    deal = await get(session, deal_id=deal_id)
    await session.delete(deal)
    await session.flush()
    await clear_references_to(session, target=DEALS.name, record_id=deal.id)
    outbox.add(
        session,
        event_type="crm_core.deal.deleted",
        tenant_id=deal.tenant_id,
        payload=events.DealDeleted(deal_id=str(deal.id)),
    )


async def history(session: AsyncSession, *, deal_id: uuid.UUID) -> list[DealStageHistory]:
    """The deal's stage changes, oldest first (the first is its creation)."""
    deal = await get(session, deal_id=deal_id)
    return await deal_repository.history(session, deal.id)
