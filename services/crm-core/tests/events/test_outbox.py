"""Outbox -> relay -> JetStream: nothing lost while NATS is down, nothing published twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm_core.models import OutboxRecord
from crm_devstack.embedded import EmbeddedNats
from crm_kit.db.session import unit_of_work
from crm_kit.events.bus import STREAM_NAME
from crm_kit.events.relay import OutboxRelay

from ..contacts.factories import create_contact

pytestmark = pytest.mark.integration


async def _envelopes_for(js: JetStreamContext, subject: str) -> list[envelope_pb2.Envelope]:
    """Every message on `subject` in the stream, read with an ephemeral consumer."""
    subscription = await js.pull_subscribe(
        subject,
        stream=STREAM_NAME,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    found: list[envelope_pb2.Envelope] = []
    while True:
        try:
            batch = await subscription.fetch(100, timeout=0.5)
        except TimeoutError:
            break
        found += [envelope_pb2.Envelope.FromString(m.data) for m in batch]
    await subscription.unsubscribe()
    return found


async def _pending_row(
    factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
) -> OutboxRecord | None:
    """The tenant's contact.created row while it waits in the outbox; None once published."""
    async with unit_of_work(factory, tenant_id=None) as session:
        return await session.scalar(
            select(OutboxRecord).where(
                OutboxRecord.tenant_id == tenant,
                OutboxRecord.event_type == "crm_core.contact.created",
            )
        )


async def _relay_until_published(
    relay: OutboxRelay,
    js: JetStreamContext,
    factory: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
) -> tuple[uuid.UUID, bytes]:
    """Run the relay (as its loop would) until the tenant's event has left the outbox."""
    row = await _pending_row(factory, tenant)
    assert row is not None, "the change wrote no event"
    for _ in range(100):
        await relay.publish_pending(js)
        if await _pending_row(factory, tenant) is None:
            return row.id, row.envelope
        await asyncio.sleep(0.1)
    raise AssertionError("the relay never published the event")


async def _copies_on_the_bus(js: JetStreamContext, event_id: uuid.UUID) -> int:
    envelopes = await _envelopes_for(js, "crm.crm_core.contact.created")
    return sum(1 for e in envelopes if e.id == str(event_id))


class TestRelay:
    async def test_created_contact_is_published_once_with_its_event_id(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        await create_contact(factory, tenant=tenant)
        relay = OutboxRelay(factory, OutboxRecord)
        event_id, envelope = await _relay_until_published(relay, jetstream, factory, tenant)

        assert await _copies_on_the_bus(jetstream, event_id) == 1
        assert envelope_pb2.Envelope.FromString(envelope).tenant_id == str(tenant)

    async def test_republishing_after_a_lost_delete_is_dropped_by_jetstream(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        await create_contact(factory, tenant=tenant)
        relay = OutboxRelay(factory, OutboxRecord)
        event_id, envelope = await _relay_until_published(relay, jetstream, factory, tenant)
        # As if the relay crashed after the PubAck but before its delete committed.
        async with unit_of_work(factory, tenant_id=None) as session:
            session.add(
                OutboxRecord(
                    id=event_id,
                    tenant_id=tenant,
                    event_type="crm_core.contact.created",
                    envelope=envelope,
                )
            )
        await _relay_until_published(relay, jetstream, factory, tenant)

        assert await _copies_on_the_bus(jetstream, event_id) == 1


async def _published_within(
    seconds: float,
    factory: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
) -> bool:
    """Whether the tenant's event leaves the outbox within `seconds` (the relay runs)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await _pending_row(factory, tenant) is None:
            return True
        await asyncio.sleep(0.05)
    return False


@contextlib.asynccontextmanager
async def _running(relay: OutboxRelay, js: JetStreamContext) -> AsyncIterator[None]:
    """The relay's loop in the background, once it listens and has drained the outbox."""
    task = asyncio.create_task(relay.run(js))
    try:
        for _ in range(100):
            if relay.listening:
                break
            await asyncio.sleep(0.05)
        assert relay.listening, "the relay never started listening"
        await asyncio.sleep(0.3)  # its first passes, over whatever earlier tests left
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class TestWakeups:
    async def test_a_committed_event_wakes_the_relay_long_before_its_poll(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        relay = OutboxRelay(factory, OutboxRecord, poll_seconds=60)
        async with _running(relay, jetstream):
            await create_contact(factory, tenant=tenant)
            assert await _published_within(2.0, factory, tenant)

    async def test_a_row_written_without_a_notify_is_found_by_the_slow_poll(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        relay = OutboxRelay(factory, OutboxRecord, poll_seconds=1.0)
        async with _running(relay, jetstream):
            # By hand, as a repair script would: no Outbox.add, so no NOTIFY.
            async with unit_of_work(factory, tenant_id=None) as session:
                session.add(
                    OutboxRecord(
                        id=uuid.uuid4(),
                        tenant_id=tenant,
                        event_type="crm_core.contact.created",
                        envelope=b"",
                    )
                )
            assert not await _published_within(0.3, factory, tenant)
            assert await _published_within(2.0, factory, tenant)


async def _terminate_listeners(migration_url: str) -> int:
    """End every backend LISTENing in the test database (as the owner may)."""
    connection = await asyncpg.connect(migration_url.replace("+asyncpg", ""))
    try:
        ended: int = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        return ended
    finally:
        await connection.close()


class TestListenConnectionLoss:
    async def test_the_relay_listens_again_after_losing_its_connection(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
        database_urls: tuple[str, str],
    ) -> None:
        relay = OutboxRelay(factory, OutboxRecord, poll_seconds=60)
        async with _running(relay, jetstream):
            assert await _terminate_listeners(database_urls[1]) >= 1
            for _ in range(100):
                await asyncio.sleep(0.05)
                if relay.listening:
                    break
            await asyncio.sleep(0.3)
            assert relay.listening
            await create_contact(factory, tenant=tenant)
            assert await _published_within(2.0, factory, tenant)


class TestNatsOutage:
    async def test_contact_created_while_nats_is_down_is_delivered_once_after(
        self,
        factory: async_sessionmaker[AsyncSession],
        nats_server: EmbeddedNats,
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        relay = OutboxRelay(factory, OutboxRecord, publish_timeout=0.5)
        nats_server.stop()
        try:
            await create_contact(factory, tenant=tenant)
            assert await relay.publish_pending(jetstream) == 0
            assert await _pending_row(factory, tenant) is not None
        finally:
            nats_server.start()

        event_id, _ = await _relay_until_published(relay, jetstream, factory, tenant)
        assert await _copies_on_the_bus(jetstream, event_id) == 1
