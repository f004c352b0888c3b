"""The contact-company links a record write sets, checked against the tenant's companies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.companies.repository import company_repository
from crm_kit.errors import InvalidArgument

MAX_COMPANIES_PER_CONTACT = 50


async def set_contact_companies(
    session: AsyncSession, *, contact_id: uuid.UUID, company_ids: Sequence[uuid.UUID]
) -> None:
    """The contact works at exactly these companies, the first one primary."""
    unique = list(dict.fromkeys(company_ids))
    if len(unique) > MAX_COMPANIES_PER_CONTACT:
        raise InvalidArgument(
            f"at most {MAX_COMPANIES_PER_CONTACT} companies",
            code="too_many_companies",
            field="company_ids",
        )
    missing = set(unique) - await company_repository.existing_ids(session, unique)
    if missing:
        # Another tenant's company is as unknown as one that never existed.
        raise InvalidArgument(
            "company_ids names a company that does not exist",
            code="company_not_found",
            field="company_ids",
        )
    await company_repository.replace_links(session, contact_id=contact_id, company_ids=unique)
