"""A record's `external_id`: its id in another system, the key syncs and imports match on.

The API and CSV imports clean it alike (trimmed, at most 200 characters, empty is
none and stored as NULL). Uniqueness per tenant and object type is the partial unique
index `uq_<table>_tenant_id_external_id` alone: a write that collides fails its flush,
and that failure becomes a Conflict here, so two concurrent writers cannot both win
the way a look-up before the write would let them.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Company, Contact, Deal, Lead
from crm_kit.errors import Conflict
from crm_kit.validation import clean_text

EXTERNAL_ID = "external_id"
EXTERNAL_ID_MAX = 200
TAKEN_CODE = "external_id_taken"


def _unique_index(model: type[object]) -> str:
    table = model.__table__  # type: ignore[attr-defined]
    for index in table.indexes:
        if index.unique and [c.name for c in index.columns] == ["tenant_id", EXTERNAL_ID]:
            return str(index.name)
    raise LookupError(f"{table.name} has no unique index on (tenant_id, {EXTERNAL_ID})")


UNIQUE_INDEXES = frozenset(_unique_index(m) for m in (Contact, Company, Lead, Deal))


def clean_external_id(value: str) -> str:
    """Trimmed, at most 200 characters; empty means none."""
    return clean_text(value, field=EXTERNAL_ID, max_length=EXTERNAL_ID_MAX)


def external_id_value(value: str) -> str | None:
    """The column value: the cleaned id, or NULL for none (the unique index skips NULLs)."""
    return clean_external_id(value) or None


def is_taken(error: IntegrityError) -> bool:
    """Whether the write failed because another record holds the external_id."""
    cause = error.orig.__cause__ if error.orig is not None else None
    return getattr(cause, "constraint_name", None) in UNIQUE_INDEXES


async def flush_claiming_external_id(session: AsyncSession, *, label: str) -> None:
    """Flushes a record's create or update; an external_id another `label` of the tenant
    holds is a Conflict (external_id_taken). The failed statement aborts the
    transaction (or the bulk item's savepoint), which the edge rolls back anyway."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if not is_taken(exc):
            raise
        raise Conflict(
            f"another {label} has this external_id", code=TAKEN_CODE, field=EXTERNAL_ID
        ) from exc
