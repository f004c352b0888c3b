"""Bulk RPCs of every record type: decode the items, run them, encode each outcome."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import records_pb2
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.records import bulk
from crm_kit.errors import InvalidArgument


@dataclass(frozen=True)
class RecordWrites:
    """One record type's create/update/delete, from its request messages."""

    area: str
    id_arg: str  # the service functions' keyword for the record id
    service: ModuleType
    mappers: ModuleType

    async def create(self, session: AsyncSession, item: Any) -> uuid.UUID:
        record = await self.service.create(session, data=self.mappers.create_from_proto(item))
        return record.id  # type: ignore[no-any-return]

    async def update(self, session: AsyncSession, item: Any) -> uuid.UUID:
        record_id: uuid.UUID = self.mappers.parse_id(item.id)
        data = self.mappers.update_from_proto(item)
        await self.service.update(session, **{self.id_arg: record_id}, data=data)
        return record_id

    async def delete(self, session: AsyncSession, item: str) -> uuid.UUID:
        record_id: uuid.UUID = self.mappers.parse_id(item)
        await self.service.delete(session, **{self.id_arg: record_id})
        return record_id


def _operation(request: Any) -> tuple[Action, str, Sequence[Any]]:
    given = [
        (name, list(getattr(request, field)))
        for name, field in (("create", "creates"), ("update", "updates"), ("delete", "delete_ids"))
        if len(getattr(request, field))
    ]
    if len(given) != 1:
        raise InvalidArgument(
            "send the items of exactly one operation", code="invalid_bulk_operation"
        )
    [(name, items)] = given
    return (Action.DELETE if name == "delete" else Action.WRITE), name, items


def _encoded(result: bulk.ItemResult) -> records_pb2.BulkItemResult:
    if result.error is None:
        return records_pb2.BulkItemResult(index=result.index, id=str(result.record_id))
    error = result.error
    return records_pb2.BulkItemResult(
        index=result.index,
        error_status=error.status.name,
        error_code=error.code,
        error_message=error.message,
        error_field=str(error.details.get("field") or ""),
    )


async def run_bulk(
    factory: async_sessionmaker[AsyncSession], writes: RecordWrites, request: Any
) -> records_pb2.BulkResponse:
    """Checks the role for the operation, then applies each item in its savepoint."""
    action, name, items = _operation(request)
    authorize(action, writes.area)
    bulk.check_size(len(items))
    step = getattr(writes, name)
    async with caller_session(factory) as session:
        results = await bulk.run_each(
            session, [functools.partial(step, session, item) for item in items]
        )
    return records_pb2.BulkResponse(results=[_encoded(r) for r in results])
