"""Bulk writes: up to 100 items, each applied in its own SAVEPOINT.

A failing item rolls back to its savepoint (its rows and its outbox events go), is
reported with its error, and the next item goes on; what the good items did commits
with the request's transaction. Nothing of an item is ever half-applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_kit.errors import InvalidArgument, ServiceError

MAX_ITEMS = 100

Step = Callable[[], Awaitable[uuid.UUID]]


@dataclass(frozen=True)
class ItemResult:
    index: int
    record_id: uuid.UUID | None = None
    error: ServiceError | None = None


def check_size(count: int) -> None:
    if not 1 <= count <= MAX_ITEMS:
        raise InvalidArgument(
            f"a bulk call takes 1..{MAX_ITEMS} items", code="invalid_bulk_size", field="items"
        )


async def _one(session: AsyncSession, index: int, step: Step) -> ItemResult:
    try:
        async with session.begin_nested():
            record_id = await step()
            await session.flush()
    except ServiceError as error:
        return ItemResult(index, error=error)
    except DBAPIError:
        # A constraint the checks did not foresee: this item only is refused.
        refused = InvalidArgument("the database refused this item", code="item_rejected")
        return ItemResult(index, error=refused)
    return ItemResult(index, record_id=record_id)


async def run_each(session: AsyncSession, steps: Sequence[Step]) -> list[ItemResult]:
    """Runs every step in its own savepoint, in order; one result per step."""
    check_size(len(steps))
    return [await _one(session, index, step) for index, step in enumerate(steps)]
