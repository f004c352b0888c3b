"""From a platform event to a signed HTTPS request at a real local receiver: fan-out,
signatures, retries, the delivery log, replay, fairness, SSRF at send time, auto-disable."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2, messaging_pb2
from crm_devstack.webhook_receiver import WebhookReceiver
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PreconditionFailed
from crm_messaging.entrypoints.consumers import build_consumer
from crm_messaging.models import OutboxRecord, WebhookDelivery, WebhookEndpoint
from crm_messaging.webhooks import deliveries, endpoints
from crm_messaging.webhooks.dispatcher import Dispatcher
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.signing import SecretBox

from .factories import LOOPBACK, contact_created, create_endpoint, dispatcher

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(worker: Dispatcher) -> AsyncIterator[Dispatcher]:
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def deliveries_of(
    factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, endpoint_id: uuid.UUID
) -> list[WebhookDelivery]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        page = await deliveries.list_for_endpoint(
            session, endpoint_id=endpoint_id, status="", limit=100, cursor=""
        )
    return page.deliveries


async def settled(
    factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, endpoint_id: uuid.UUID
) -> list[WebhookDelivery]:
    """The endpoint's deliveries once none is pending (waits up to 20 s)."""
    for _ in range(400):
        found = await deliveries_of(factory, tenant, endpoint_id)
        if found and all(d.status != "pending" for d in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"still pending: {[(d.status, d.attempt_count) for d in found]}")


async def subscribed(
    factory: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
    rules: EndpointRules,
    receiver: WebhookReceiver,
    path: str,
) -> tuple[WebhookEndpoint, str]:
    """An endpoint at the receiver's `path` (contact events), whose secret it verifies."""
    endpoint, secret = await create_endpoint(
        factory, tenant=tenant, rules=rules, url=receiver.url(path)
    )
    receiver.expect_secrets(path, secret)
    return endpoint, secret


@pytest.fixture
def worker(
    factory: async_sessionmaker[AsyncSession], box: SecretBox, ca_bundle: Path
) -> Dispatcher:
    return dispatcher(factory, box=box, ca_bundle=ca_bundle, allowed=LOOPBACK)


class TestFanOut:
    async def test_matching_enabled_endpoints_get_one_delivery_each_and_redelivery_adds_none(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        contacts, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/c"), event_types=("contact.*",)
        )
        everything, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/all"), event_types=("*",)
        )
        deals, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/d"), event_types=("deal.*",)
        )
        elsewhere, _ = await create_endpoint(
            factory, tenant=other_tenant, rules=rules, url=receiver.url("/o"), event_types=("*",)
        )
        consumer = build_consumer(factory)
        envelope = contact_created(tenant, first_name="Grace")

        assert await consumer.apply(envelope) is True
        assert await consumer.apply(envelope) is False  # redelivered: already applied

        assert len(await deliveries_of(factory, tenant, contacts.id)) == 1
        assert len(await deliveries_of(factory, tenant, everything.id)) == 1
        assert await deliveries_of(factory, tenant, deals.id) == []
        assert await deliveries_of(factory, other_tenant, elsewhere.id) == []
        [delivery] = await deliveries_of(factory, tenant, contacts.id)
        body = json.loads(delivery.payload)
        assert body["id"] == envelope.id
        assert body["type"] == "contact.created"
        assert body["tenant_id"] == str(tenant)
        assert body["data"]["contact"]["first_name"] == "Grace"
        assert delivery.event_id == uuid.UUID(envelope.id)

    async def test_disabled_endpoints_get_nothing(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/c")
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await endpoints.change(session, rules=rules, endpoint_id=endpoint.id, enabled=False)
        await build_consumer(factory).apply(contact_created(tenant))
        assert await deliveries_of(factory, tenant, endpoint.id) == []


class TestDispatch:
    async def test_a_signed_delivery_arrives_and_is_logged(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, secret = await subscribed(factory, tenant, rules, receiver, "/ok")
        envelope = contact_created(tenant)
        await build_consumer(factory).apply(envelope)

        async with running(worker):
            [delivery] = await settled(factory, tenant, endpoint.id)

        [request] = receiver.at("/ok")
        assert request.verified_with == {secret}
        assert request.webhook_id == envelope.id
        assert request.body == delivery.payload
        assert delivery.status == "succeeded"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            [attempt] = await deliveries.attempts_of(session, delivery_id=delivery.id)
        assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
        assert attempt.latency_ms >= 0
        assert attempt.response_snippet == "ok"

    async def test_timeouts_5xx_and_429_are_retried_with_the_same_id_and_body(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, secret = await subscribed(factory, tenant, rules, receiver, "/flaky")
        receiver.fail_next("/flaky", 500, 503, 429, 408)
        await build_consumer(factory).apply(contact_created(tenant))

        async with running(worker):
            [delivery] = await settled(factory, tenant, endpoint.id)

        requests = receiver.at("/flaky")
        assert [r.status for r in requests] == [500, 503, 429, 408, 200]
        assert len({r.webhook_id for r in requests}) == 1
        assert len({r.body for r in requests}) == 1
        assert all(r.verified_with == {secret} for r in requests)
        assert (delivery.status, delivery.attempt_count) == ("succeeded", 5)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            attempts = await deliveries.attempts_of(session, delivery_id=delivery.id)
            healthy = await endpoints.get(session, endpoint_id=endpoint.id)
        assert [a.status_code for a in attempts] == [500, 503, 429, 408, 200]
        assert attempts[0].response_snippet == "answered 500"
        assert healthy.failing_since is None  # the success ended the streak

    async def test_other_4xx_fails_at_once(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, _ = await subscribed(factory, tenant, rules, receiver, "/gone")
        receiver.fail_next("/gone", 410)
        await build_consumer(factory).apply(contact_created(tenant))

        async with running(worker):
            [delivery] = await settled(factory, tenant, endpoint.id)
            await asyncio.sleep(0.3)  # a retry, were there one, would be due by now

        assert [r.status for r in receiver.at("/gone")] == [410]
        assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
            "failed",
            410,
            "http_status",
        )

    async def test_replay_resends_the_same_event_as_a_new_attempt(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, _ = await subscribed(factory, tenant, rules, receiver, "/r")
        await build_consumer(factory).apply(contact_created(tenant))
        async with running(worker):
            [delivery] = await settled(factory, tenant, endpoint.id)
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await deliveries.replay(session, delivery_id=delivery.id)
            await receiver.wait_for(lambda: len(receiver.at("/r")) == 2)
            [replayed] = await settled(factory, tenant, endpoint.id)

        first, second = receiver.at("/r")
        assert first.webhook_id == second.webhook_id
        assert first.body == second.body
        assert (replayed.status, replayed.attempt_count) == ("succeeded", 2)

    async def test_a_slow_endpoint_does_not_delay_another_tenant(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        ca_bundle: Path,
        receiver: WebhookReceiver,
    ) -> None:
        slow, slow_secret = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/slow")
        )
        fast, fast_secret = await create_endpoint(
            factory, tenant=other_tenant, rules=rules, url=receiver.url("/fast")
        )
        receiver.expect_secrets("/slow", slow_secret)
        receiver.expect_secrets("/fast", fast_secret)
        receiver.slow_down("/slow", 3.0)  # beyond the 1 s attempt timeout
        consumer = build_consumer(factory)
        for _ in range(5):
            await consumer.apply(contact_created(tenant))
        await consumer.apply(contact_created(other_tenant))
        worker = dispatcher(
            factory, box=box, ca_bundle=ca_bundle, allowed=LOOPBACK, timeout=1.0, max_concurrency=4
        )

        async with running(worker):
            await receiver.wait_for(lambda: len(receiver.at("/fast")) == 1, within=10)
            slow_attempts_then = sum(
                d.attempt_count for d in await deliveries_of(factory, tenant, slow.id)
            )

        # The other tenant's delivery went out while the slow lane had not even finished
        # its first attempt: one lane per endpoint, one request at a time in it.
        assert slow_attempts_then == 0
        [fast_delivery] = await deliveries_of(factory, other_tenant, fast.id)
        assert fast_delivery.status == "succeeded"

    async def test_a_name_resolving_to_a_forbidden_address_is_refused_at_send_time(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        ca_bundle: Path,
        receiver: WebhookReceiver,
    ) -> None:
        # Subscribed while `localhost` was allowed; the sender no longer allows it, as
        # when a public name starts resolving to a private address (DNS rebinding).
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=f"https://localhost:{receiver.port}/ssrf"
        )
        await build_consumer(factory).apply(contact_created(tenant))
        strict = dispatcher(factory, box=box, ca_bundle=ca_bundle, allowed=())

        async with running(strict):
            [delivery] = await settled(factory, tenant, endpoint.id)

        assert receiver.at("/ssrf") == []
        assert (delivery.status, delivery.last_error) == ("failed", "blocked_address")

    async def test_an_interrupted_attempt_is_sent_again_when_its_lease_ends(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        ca_bundle: Path,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await subscribed(factory, tenant, rules, receiver, "/lease")
        await build_consumer(factory).apply(contact_created(tenant))
        crashing = dispatcher(
            factory, box=box, ca_bundle=ca_bundle, allowed=LOOPBACK, lease=timedelta(0)
        )
        # Claimed, then the process "dies" before sending: nothing recorded.
        assert await crashing.claim(tenant, endpoint.id) is not None

        async with running(crashing):
            [delivery] = await settled(factory, tenant, endpoint.id)

        assert len(receiver.at("/lease")) == 1
        assert delivery.status == "succeeded"

    async def test_a_delivery_left_pending_for_a_disabled_endpoint_is_failed_not_sent(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/raced")
        )
        await build_consumer(factory).apply(contact_created(tenant))
        # As if the fan-out committed just after the endpoint was disabled.
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(enabled=False)
            )

        assert await worker.claim(tenant, endpoint.id) is None

        [delivery] = await deliveries_of(factory, tenant, endpoint.id)
        assert (delivery.status, delivery.last_error) == ("failed", "endpoint_disabled")
        assert receiver.at("/raced") == []

    async def test_stopping_lets_an_attempt_under_way_finish_and_be_recorded(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, _ = await subscribed(factory, tenant, rules, receiver, "/draining")
        receiver.slow_down("/draining", 0.5)
        await build_consumer(factory).apply(contact_created(tenant))

        async with running(worker):
            for _ in range(100):  # until the attempt is under way
                [delivery] = await deliveries_of(factory, tenant, endpoint.id)
                if delivery.next_attempt_at > utcnow():
                    break
                await asyncio.sleep(0.02)
        # The worker has stopped; the attempt it had started was still recorded.

        [delivery] = await deliveries_of(factory, tenant, endpoint.id)
        assert (delivery.status, delivery.attempt_count) == ("succeeded", 1)
        assert len(receiver.at("/draining")) == 1


class TestAutoDisable:
    async def test_failing_for_days_disables_the_endpoint_and_tells_admins(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
        worker: Dispatcher,
    ) -> None:
        endpoint, _ = await subscribed(factory, tenant, rules, receiver, "/down")
        receiver.fail_next("/down", 500)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(failing_since=utcnow() - timedelta(days=6))
            )
        consumer = build_consumer(factory)
        await consumer.apply(contact_created(tenant))

        async with running(worker):
            [delivery] = await settled(factory, tenant, endpoint.id)

        assert (delivery.status, delivery.last_error) == ("failed", "endpoint_disabled")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            disabled = await endpoints.get(session, endpoint_id=endpoint.id)
            events = list(
                await session.scalars(select(OutboxRecord).where(OutboxRecord.tenant_id == tenant))
            )
        assert (disabled.enabled, disabled.disabled_reason) == (False, "failing")
        [record] = [e for e in events if e.event_type == "messaging.webhook_endpoint.disabled"]
        from_bus = messaging_pb2.WebhookEndpointDisabled()
        envelope = envelope_pb2.Envelope.FromString(record.envelope)
        envelope.payload.Unpack(from_bus)
        assert from_bus.endpoint_id == str(endpoint.id)
        assert from_bus.reason == "failing"

        # Disabled: new events owe it nothing, replay is refused until it is enabled.
        await consumer.apply(contact_created(tenant))
        assert len(await deliveries_of(factory, tenant, endpoint.id)) == 1
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(PreconditionFailed):
                await deliveries.replay(session, delivery_id=delivery.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            enabled = await endpoints.change(
                session, rules=rules, endpoint_id=endpoint.id, enabled=True
            )
        assert (enabled.enabled, enabled.failing_since, enabled.disabled_reason) == (True, None, "")


class TestDeliveryIsolation:
    async def test_another_tenants_delivery_is_not_found(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/iso")
        )
        await build_consumer(factory).apply(contact_created(tenant))
        [delivery] = await deliveries_of(factory, tenant, endpoint.id)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await deliveries.get(session, delivery_id=delivery.id)
            with pytest.raises(NotFound):
                await deliveries.replay(session, delivery_id=delivery.id)
            with pytest.raises(NotFound):
                await deliveries.list_for_endpoint(
                    session, endpoint_id=endpoint.id, status="", limit=10, cursor=""
                )


class TestDeliveryLog:
    async def test_pages_newest_first_filter_by_status_and_refuse_bad_cursors(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/log")
        )
        consumer = build_consumer(factory)
        events = [contact_created(tenant) for _ in range(3)]
        for envelope in events:
            await consumer.apply(envelope)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            first = await deliveries.list_for_endpoint(
                session, endpoint_id=endpoint.id, status="", limit=2, cursor=""
            )
            rest = await deliveries.list_for_endpoint(
                session, endpoint_id=endpoint.id, status="", limit=2, cursor=first.next_cursor
            )
            succeeded = await deliveries.list_for_endpoint(
                session, endpoint_id=endpoint.id, status="succeeded", limit=10, cursor=""
            )
            naive = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode())
            for bad in ("not-a-cursor", naive.decode()):
                with pytest.raises(InvalidArgument):
                    await deliveries.list_for_endpoint(
                        session, endpoint_id=endpoint.id, status="", limit=2, cursor=bad
                    )
            with pytest.raises(InvalidArgument):
                await deliveries.list_for_endpoint(
                    session, endpoint_id=endpoint.id, status="lost", limit=2, cursor=""
                )

        paged = [d.event_id for d in [*first.deliveries, *rest.deliveries]]
        assert paged == [uuid.UUID(e.id) for e in reversed(events)]
        assert rest.next_cursor == ""
        assert succeeded.deliveries == []
