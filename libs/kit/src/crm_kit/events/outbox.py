"""The transactional outbox: events are rows written in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import Message
from sqlalchemy import DateTime, Index, LargeBinary, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from crm.events.v1 import envelope_pb2
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.timestamps import to_timestamp


class OutboxRecordMixin:
    """Columns of a service's `outbox` table: the events not yet on the bus.

    Not tenant-scoped by RLS: the relay reads every tenant's pending events. The
    payload is the serialized Envelope, which carries its tenant id. The relay deletes
    a row once JetStream has acknowledged it, so the table stays small and an event
    that must carry a secret (a password-reset link) does not linger in it.
    """

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(200))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Index, ...]:
        return (Index("ix_outbox_created_at", "created_at"),)


class ProcessedEventMixin:
    """Columns of a service's `processed_events` table: what each consumer has applied."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Where a session notes, until its commit, which relay channel its new events wake.
WAKE_RELAY_KEY = "outbox_wakes"


def relay_channel(model: type[Any]) -> str:
    """The PostgreSQL channel a service's outbox writers NOTIFY and its relay LISTENs on."""
    return f"{model.__tablename__}_written"


def wake_relay_sql(model: type[Any]) -> str:
    """The NOTIFY that wakes the relay, sent inside the writing transaction: PostgreSQL
    delivers it on commit (and drops it on rollback), so the relay looks as soon as the
    rows are visible. For writers that insert outbox rows on the driver (COPY)."""
    return f"NOTIFY {relay_channel(model)}"


def wake_relay(connection: Connection, model: type[Any]) -> None:
    """`wake_relay_sql` on a session's connection; `Outbox.add` arranges it itself."""
    connection.exec_driver_sql(wake_relay_sql(model))


@event.listens_for(Session, "before_commit")
def _wake_relays_on_commit(session: Session) -> None:
    for model in session.info.pop(WAKE_RELAY_KEY, ()):
        wake_relay(session.connection(), model)


@event.listens_for(Session, "after_rollback")
def _forget_wakes_on_rollback(session: Session) -> None:
    session.info.pop(WAKE_RELAY_KEY, None)


def build_envelope(
    *, event_type: str, source: str, tenant_id: uuid.UUID | None, payload: Message
) -> envelope_pb2.Envelope:
    ctx = current_context()
    packed = AnyProto()
    packed.Pack(payload)
    return envelope_pb2.Envelope(
        id=str(new_id()),
        type=event_type,
        tenant_id=str(tenant_id) if tenant_id else "",
        occurred_at=to_timestamp(utcnow()),
        source=source,
        actor=envelope_pb2.Actor(
            kind=ctx.actor_kind if ctx.user_id else "system",
            id=str(ctx.user_id) if ctx.user_id else "",
        ),
        payload=packed,
        request_id=ctx.request_id,
        client_ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )


class Outbox:
    """Writes a service's events into its outbox table inside the caller's transaction."""

    def __init__(self, model: type[Any], *, source: str) -> None:
        # type[Any]: the service's mapped subclass of OutboxRecordMixin.
        self._model = model
        self.source = source

    def add(
        self,
        session: AsyncSession,
        *,
        event_type: str,
        tenant_id: uuid.UUID | None,
        payload: Message,
    ) -> envelope_pb2.Envelope:
        envelope = build_envelope(
            event_type=event_type, source=self.source, tenant_id=tenant_id, payload=payload
        )
        session.add(
            self._model(
                id=uuid.UUID(envelope.id),
                tenant_id=tenant_id,
                event_type=event_type,
                envelope=envelope.SerializeToString(),
            )
        )
        session.info.setdefault(WAKE_RELAY_KEY, set()).add(self._model)
        return envelope
