"""Publishes outbox rows to JetStream in order, deleting each one only after its PubAck.

The relay sleeps until a writer's NOTIFY (sent inside the writing transaction, so
delivered on its commit) says there is work, rather than querying a few times a second
in every service: on a small machine those wakeups cost the requests it serves. A slow
poll stays as the safety net (a notification lost with its connection, a row written
by hand), and after a failed publish it retries on a short timer instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.background import wait_for_event
from crm_kit.db.session import unit_of_work
from crm_kit.events.bus import subject_for
from crm_kit.events.outbox import relay_channel

log = logging.getLogger(__name__)

PUBLISH_ERRORS = (NatsError, TimeoutError, OSError)
CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class OutboxRelay:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        model: type[Any],
        *,
        poll_seconds: float = 5.0,
        retry_seconds: float = 0.2,
        batch_size: int = 100,
        publish_timeout: float = 2.0,
    ) -> None:
        self._factory = factory
        self._model = model
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._batch_size = batch_size
        self._publish_timeout = publish_timeout
        self._written = asyncio.Event()
        # Whether the last batch stopped at a failed publish (rows are waiting).
        self._failed = False
        # Whether a NOTIFY would reach the relay right now.
        self._listening_now = False

    @property
    def listening(self) -> bool:
        """Whether a writer's NOTIFY reaches the relay right now (else it polls)."""
        return self._listening_now

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publish one batch; returns how many rows it published (and deleted).

        The Nats-Msg-Id header is the event id: if a publish is acknowledged but
        the delete is lost (crash, rollback), JetStream drops the second copy.
        """
        model = self._model
        published = 0
        self._failed = False
        async with unit_of_work(self._factory, tenant_id=None) as session:
            # One relay at a time per database keeps events in commit order across
            # replicas; the others find the lock taken and wait for their next wakeup.
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                {"name": f"outbox-relay:{model.__tablename__}"},
            )
            if not locked:
                return 0
            rows = (
                await session.scalars(
                    select(model)
                    .order_by(model.created_at, model.id)
                    .limit(self._batch_size)
                    .with_for_update()
                )
            ).all()
            for row in rows:
                try:
                    await js.publish(
                        subject_for(row.event_type),
                        row.envelope,
                        timeout=self._publish_timeout,
                        headers={"Nats-Msg-Id": str(row.id)},
                    )
                except PUBLISH_ERRORS as exc:
                    log.warning("outbox publish failed; will retry", extra={"error": repr(exc)})
                    self._failed = True
                    break
                await session.delete(row)
                published += 1
        return published

    async def run(self, js: JetStreamContext) -> None:
        """Relay until cancelled: drain while there is work, then wait for a NOTIFY."""
        async with self._listener_running():
            while True:
                # Cleared before the query: a commit after it sets it again.
                self._written.clear()
                try:
                    if await self.publish_pending(js) == self._batch_size:
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay iteration failed")
                    self._failed = True
                await self._wait_for_work()

    async def _wait_for_work(self) -> None:
        slow = self._listening_now and not self._failed
        timeout = self._poll_seconds if slow else self._retry_seconds
        await wait_for_event(self._written, timeout)

    @contextlib.asynccontextmanager
    async def _listener_running(self) -> AsyncIterator[None]:
        """LISTEN on a connection of its own (outside the pool, which it would pin) for
        as long as the relay runs; without one (database down) it polls on the short
        timer and tries again."""
        task = asyncio.create_task(self._listen_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen_forever(self) -> None:
        engine = self._factory.kw["bind"].sync_engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        while True:
            try:
                connection = await asyncpg.connect(*args, **kwargs)
            except CONNECT_ERRORS as exc:
                log.warning("outbox relay cannot LISTEN; polling", extra={"error": repr(exc)})
                await asyncio.sleep(self._poll_seconds)
                continue
            try:
                await self._listen_on(connection)
                log.warning("outbox relay lost its LISTEN connection; reconnecting")
                continue
            except CONNECT_ERRORS as exc:
                log.warning("outbox relay cannot LISTEN; polling", extra={"error": repr(exc)})
            finally:
                self._listening_now = False
                if not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(self._poll_seconds)

    async def _listen_on(self, connection: asyncpg.Connection) -> None:
        """Turn NOTIFYs into wakeups until the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(relay_channel(self._model), lambda *_: self._written.set())
        self._listening_now = True
        # Rows committed before the LISTEN took effect sent no notification.
        self._written.set()
        await lost.wait()
