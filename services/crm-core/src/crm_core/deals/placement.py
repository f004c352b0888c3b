"""Where a deal goes and what it points at, checked against the tenant's records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.companies.repository import company_repository
from crm_core.deals.repository import deal_repository
from crm_core.models import Stage
from crm_core.pipelines.repository import pipeline_repository
from crm_kit.errors import InvalidArgument

MAX_CONTACTS_PER_DEAL = 50


def _invalid(message: str, code: str, field: str) -> InvalidArgument:
    # Another tenant's record is as unknown as one that never existed.
    return InvalidArgument(message, code=code, field=field)


async def resolve_stage(
    session: AsyncSession, *, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None
) -> Stage:
    """The stage named, or the first stage of the pipeline named, or of the default one."""
    if stage_id is not None:
        stage = await pipeline_repository.stage(session, stage_id)
        if stage is None:
            raise _invalid("no such stage", "stage_not_found", "stage_id")
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            raise _invalid("the stage is not in that pipeline", "stage_not_in_pipeline", "stage_id")
        return stage
    if pipeline_id is not None:
        pipeline = await pipeline_repository.get_with_stages(session, pipeline_id)
        if pipeline is None:
            raise _invalid("no such pipeline", "pipeline_not_found", "pipeline_id")
    else:
        pipeline = await pipeline_repository.default(session)
        if pipeline is None:
            raise _invalid("no default pipeline yet; name one", "pipeline_not_found", "pipeline_id")
    return pipeline.stages[0]


async def check_company(session: AsyncSession, company_id: uuid.UUID | None) -> None:
    if company_id is None:
        return
    if not await company_repository.existing_ids(session, [company_id]):
        raise _invalid("no such company", "company_not_found", "company_id")


async def checked_contacts(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(contact_ids))
    if len(unique) > MAX_CONTACTS_PER_DEAL:
        raise _invalid(
            f"at most {MAX_CONTACTS_PER_DEAL} contacts", "too_many_contacts", "contact_ids"
        )
    if set(unique) - await deal_repository.existing_contact_ids(session, unique):
        raise _invalid(
            "contact_ids names a contact that does not exist", "contact_not_found", "contact_ids"
        )
    return unique
