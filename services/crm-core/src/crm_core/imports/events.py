"""Record events of an import, the same `crm_core.<type>.created|updated` (with the same
snapshots) the API writes, built from the rows the merge returned and copied into the
outbox in the chunk's transaction; and `crm_core.import.completed` at the end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.events import SERVICE_NAME
from crm_core.models import OutboxRecord
from crm_core.records.mappers import dict_to_struct
from crm_kit.db.models import utcnow
from crm_kit.events.outbox import wake_relay_sql
from crm_kit.timestamps import to_timestamp


@dataclass(frozen=True)
class RecordEvents:
    snapshot: type[Message]
    snapshot_field: str
    created: type[Message]
    updated: type[Message]
    entity: str


RECORD_EVENTS: dict[str, RecordEvents] = {
    "contacts": RecordEvents(
        events.ContactSnapshot, "contact", events.ContactCreated, events.ContactUpdated, "contact"
    ),
    "companies": RecordEvents(
        events.CompanySnapshot, "company", events.CompanyCreated, events.CompanyUpdated, "company"
    ),
    "leads": RecordEvents(
        events.LeadSnapshot, "lead", events.LeadCreated, events.LeadUpdated, "lead"
    ),
    "deals": RecordEvents(
        events.DealSnapshot, "deal", events.DealCreated, events.DealUpdated, "deal"
    ),
}
OUTBOX_COLUMNS = ["id", "tenant_id", "event_type", "envelope", "created_at"]


def snapshot_columns(object_type: str) -> list[str]:
    """The columns (and link arrays) a snapshot of the type is built from."""
    return [f.name for f in RECORD_EVENTS[object_type].snapshot.DESCRIPTOR.fields]


def _value(field: Any, value: Any) -> Any:
    if value is None:
        return None
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return to_timestamp(value)
        return dict_to_struct(_json(value) or {})
    if field.is_repeated:
        return [str(v) for v in value]
    if field.type == FieldDescriptor.TYPE_STRING:
        return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return value


class EventWriter:
    """Builds envelopes for one job's records; the parts every event shares are built once."""

    def __init__(
        self, object_type: str, *, tenant_id: uuid.UUID, actor: envelope_pb2.Actor, request_id: str
    ) -> None:
        self.kinds = RECORD_EVENTS[object_type]
        self.tenant_id = tenant_id
        self.actor = actor
        self.request_id = request_id
        self.fields: list[Any] = list(self.kinds.snapshot.DESCRIPTOR.fields)

    def _snapshot(self, row: asyncpg.Record) -> Message:
        values = {}
        for field in self.fields:
            value = _value(field, row[field.name])
            if value is not None:
                values[field.name] = value
        return self.kinds.snapshot(**values)

    def _record(self, event_type: str, payload: Message, now: datetime) -> tuple[Any, ...]:
        event_id = uuid.uuid4()
        packed = AnyProto()
        packed.Pack(payload)
        envelope = envelope_pb2.Envelope(
            id=str(event_id),
            type=event_type,
            tenant_id=str(self.tenant_id),
            occurred_at=to_timestamp(now),
            source=SERVICE_NAME,
            actor=self.actor,
            payload=packed,
            request_id=self.request_id,
        )
        return (event_id, self.tenant_id, event_type, envelope.SerializeToString(), now)

    def records(
        self, created: Sequence[asyncpg.Record], updated: Sequence[asyncpg.Record]
    ) -> list[tuple[Any, ...]]:
        now = utcnow()
        entity, key = self.kinds.entity, self.kinds.snapshot_field
        out = [
            self._record(
                f"crm_core.{entity}.created", self.kinds.created(**{key: self._snapshot(r)}), now
            )
            for r in created
        ]
        for row in updated:
            payload = self.kinds.updated(
                **{key: self._snapshot(row)}, changed_fields=sorted(_changed(row["changes"]))
            )
            out.append(self._record(f"crm_core.{entity}.updated", payload, now))
        return out

    def completed(self, payload: events.ImportCompleted) -> tuple[Any, ...]:
        return self._record("crm_core.import.completed", payload, utcnow())


def _json(value: Any) -> Any:
    """jsonb as the driver hands it: text (the codec SQLAlchemy installs) or decoded."""
    return json.loads(value) if isinstance(value, str) else value


def _changed(changes: Any) -> list[str]:
    return list(_json(changes) or {})


async def write(connection: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    """Copies the events into the outbox (not under RLS: the relay reads every tenant's),
    and wakes the relay when the chunk's transaction commits."""
    if records:
        await connection.copy_records_to_table("outbox", records=records, columns=OUTBOX_COLUMNS)
        await connection.execute(wake_relay_sql(OutboxRecord))
