"""What happens to what hangs on a record when the record is deleted.

- Links of activities, tasks and notes to the record go. An item still attached to
  another record stays (detached from this one); an item attached to no record any
  more is deleted, with its own `crm_core.<item>.deleted` event (reason
  `record_deleted`), so a deletion never leaves an orphan nobody can reach by record.
- Tags on the record go (the tag itself stays for other records).
- The record's field-change history goes with it, as a deal's stage history does.
- The record's files go: their rows here, their bytes once the transaction commits
  (`crm_core.files.blob_cleanup`).

This runs in a mapper `after_delete` hook, inside the flush that deletes the record,
so every way of deleting a record (the four services, and any later bulk path that
deletes through the ORM) applies the same rules in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, event, exists, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, object_session

from crm.events.v1 import crm_core_pb2 as events
from crm_core.events import SERVICE_NAME
from crm_core.files.blob_cleanup import remove_after_commit
from crm_core.models import (
    Activity,
    Note,
    OutboxRecord,
    RecordChange,
    RecordLink,
    RecordTag,
    StoredFile,
    Task,
)
from crm_kit.events.outbox import build_envelope, wake_relay

if TYPE_CHECKING:
    from crm_core.records.registry import ObjectSpec


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


ITEM_TABLES: dict[str, Table] = {
    "activity": _table(Activity),
    "task": _table(Task),
    "note": _table(Note),
}
_LINKS = _table(RecordLink)


def _publish_deleted(
    connection: Connection, *, tenant: uuid.UUID, item_type: str, item_id: uuid.UUID
) -> None:
    event_type = f"crm_core.{item_type}.deleted"
    envelope = build_envelope(
        event_type=event_type,
        source=SERVICE_NAME,
        tenant_id=tenant,
        payload=events.RecordItemDeleted(
            item_type=item_type, item_id=str(item_id), reason="record_deleted"
        ),
    )
    connection.execute(
        insert(_table(OutboxRecord)).values(
            id=uuid.UUID(envelope.id),
            tenant_id=tenant,
            event_type=event_type,
            envelope=envelope.SerializeToString(),
        )
    )
    wake_relay(connection, OutboxRecord)


def _delete_orphans(
    connection: Connection, *, tenant: uuid.UUID, item_type: str, ids: list[uuid.UUID]
) -> None:
    table = ITEM_TABLES[item_type]
    still_linked = exists(
        select(1).where(
            _LINKS.c.tenant_id == tenant,
            _LINKS.c.item_type == item_type,
            _LINKS.c.item_id == table.c.id,
        )
    )
    gone = connection.execute(
        delete(table)
        .where(table.c.tenant_id == tenant, table.c.id.in_(ids), ~still_linked)
        .returning(table.c.id)
    ).scalars()
    for item_id in gone:
        _publish_deleted(connection, tenant=tenant, item_type=item_type, item_id=item_id)


def remove_relations(
    connection: Connection, *, tenant: uuid.UUID, record_type: str, record_id: uuid.UUID
) -> None:
    """Applies the deletion rules above for one deleted record."""
    unlinked = connection.execute(
        delete(_LINKS)
        .where(
            _LINKS.c.tenant_id == tenant,
            _LINKS.c.record_type == record_type,
            _LINKS.c.record_id == record_id,
        )
        .returning(_LINKS.c.item_type, _LINKS.c.item_id)
    ).all()
    for item_type in ITEM_TABLES:
        ids = [item_id for kind, item_id in unlinked if kind == item_type]
        if ids:
            _delete_orphans(connection, tenant=tenant, item_type=item_type, ids=ids)
    for model in (RecordTag, RecordChange):
        table = _table(model)
        connection.execute(
            delete(table).where(
                table.c.tenant_id == tenant,
                table.c.record_type == record_type,
                table.c.record_id == record_id,
            )
        )


def delete_record_files(
    connection: Connection, *, tenant: uuid.UUID, record_type: str, record_id: uuid.UUID
) -> list[str]:
    """Deletes a deleted record's file rows; returns their storage keys."""
    table = _table(StoredFile)
    return list(
        connection.execute(
            delete(table)
            .where(
                table.c.tenant_id == tenant,
                table.c.record_type == record_type,
                table.c.record_id == record_id,
            )
            .returning(table.c.storage_key)
        ).scalars()
    )


def _cleaner(record_type: str) -> Any:
    def after_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
        remove_relations(
            connection, tenant=target.tenant_id, record_type=record_type, record_id=target.id
        )
        keys = delete_record_files(
            connection, tenant=target.tenant_id, record_type=record_type, record_id=target.id
        )
        session = object_session(target)
        if keys and session is not None:
            remove_after_commit(session, keys)

    return after_delete


_CLEANERS: dict[str, Any] = {}


def apply_deletion_rules(specs: Iterable[ObjectSpec]) -> None:
    """Deleting a record of these object types applies the rules above."""
    for spec in specs:
        if spec.name not in _CLEANERS:
            _CLEANERS[spec.name] = _cleaner(spec.name)
            event.listen(spec.model, "after_delete", _CLEANERS[spec.name])
