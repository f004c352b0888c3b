"""The delivery worker: claims due deliveries fairly, sends them, records the outcome.

Work is organised in lanes, one per endpoint. Each round asks the database for the lanes
with due work, ordered round-robin across tenants (each tenant's oldest lane first, then
each tenant's second...), skipping lanes this process already works at their limit, and
starts one delivery per lane. A slow or timing-out endpoint therefore occupies at most
its own `per_endpoint` slots and never delays another endpoint or tenant, while the
whole process stays under `max_concurrency` requests.

Claiming is a short transaction bound to the delivery's tenant: the row is locked with
`FOR UPDATE SKIP LOCKED` and leased by moving `next_attempt_at` past the attempt's
timeout, so several replicas never send the same delivery at once and an attempt lost
with its process (crash, kill) is simply due again when the lease ends (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.background import wait_for_event
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_messaging.models import WebhookDelivery, WebhookEndpoint
from crm_messaging.models.webhook import DISPATCH_GUCS, FAILED, PENDING
from crm_messaging.webhooks import deliveries, endpoints
from crm_messaging.webhooks.retry import RetryPolicy
from crm_messaging.webhooks.sender import AttemptResult, WebhookSender
from crm_messaging.webhooks.signing import SecretBox, signature_header

log = logging.getLogger(__name__)

LANE_LIMIT = 200
# Due lanes, each tenant's in order of its oldest due delivery, interleaved by rank.
DUE_LANES_SQL = text(
    """
    WITH due AS (
        SELECT tenant_id, endpoint_id, min(next_attempt_at) AS oldest
        FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
          AND NOT (endpoint_id = ANY(CAST(:busy AS uuid[])))
        GROUP BY tenant_id, endpoint_id
    )
    SELECT tenant_id, endpoint_id FROM (
        SELECT tenant_id, endpoint_id, oldest,
               row_number() OVER (PARTITION BY tenant_id ORDER BY oldest) AS lane_rank
        FROM due
    ) ranked
    ORDER BY lane_rank, oldest
    LIMIT :lanes
    """
)


@dataclass(frozen=True)
class Claimed:
    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: bytes
    secrets: list[str]


@dataclass(frozen=True)
class DispatchPolicy:
    retry: RetryPolicy
    disable_after: timedelta
    lease: timedelta
    max_concurrency: int
    per_endpoint: int
    poll_seconds: float
    # How long attempts under way may finish when the worker stops.
    drain_seconds: float = 10.0


def request_headers(claimed: Claimed, *, timestamp: int) -> dict[str, str]:
    """Standard Webhooks headers: the event id, when, and the signature(s)."""
    return {
        "webhook-id": str(claimed.event_id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            claimed.secrets,
            message_id=str(claimed.event_id),
            timestamp=timestamp,
            body=claimed.body,
        ),
    }


class Dispatcher:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        box: SecretBox,
        sender: WebhookSender,
        policy: DispatchPolicy,
    ) -> None:
        self._factory = factory
        self._box = box
        self._sender = sender
        self._policy = policy
        self._busy: Counter[uuid.UUID] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    async def due_lanes(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(tenant, endpoint) lanes with due work that this process has room for."""
        full = [e for e, n in self._busy.items() if n >= self._policy.per_endpoint]
        async with unit_of_work(self._factory, tenant_id=None, gucs=DISPATCH_GUCS) as session:
            rows = await session.execute(
                DUE_LANES_SQL,
                {"busy": [str(e) for e in full], "lanes": LANE_LIMIT},
                execution_options={"skip_tenant_filter": True},
            )
            return [(r.tenant_id, r.endpoint_id) for r in rows]

    async def claim(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> Claimed | None:
        """Leases the endpoint's oldest due delivery, or None if another worker took it."""
        async with unit_of_work(self._factory, tenant_id=tenant_id) as session:
            delivery = await session.scalar(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= utcnow(),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if delivery is None:
                return None
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.enabled:
                # Fanned out while the endpoint was being disabled: owed nothing now.
                delivery.status = FAILED
                delivery.last_error = endpoints.ENDPOINT_DISABLED
                return None
            now = utcnow()
            delivery.next_attempt_at = now + self._policy.lease
            return Claimed(
                tenant_id=tenant_id,
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                url=endpoint.url,
                body=delivery.payload,
                secrets=endpoints.signing_secrets(endpoint, self._box, now=now),
            )

    async def attempt(self, claimed: Claimed) -> AttemptResult:
        started = utcnow()
        result = await self._sender.send(
            claimed.url,
            headers=request_headers(claimed, timestamp=int(started.timestamp())),
            body=claimed.body,
        )
        await self.record(claimed, result, attempted_at=started)
        return result

    async def record(
        self, claimed: Claimed, result: AttemptResult, *, attempted_at: datetime
    ) -> None:
        async with unit_of_work(self._factory, tenant_id=claimed.tenant_id) as session:
            await deliveries.record_attempt(
                session,
                delivery_id=claimed.delivery_id,
                result=result,
                attempted_at=attempted_at,
                policy=self._policy.retry,
                disable_after=self._policy.disable_after,
            )

    async def _work(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        ctx = RequestContext(request_id=uuid.uuid4().hex, tenant_id=tenant_id, actor_kind="system")
        try:
            with bind_context(ctx):
                claimed = await self.claim(tenant_id, endpoint_id)
                if claimed is not None:
                    await self.attempt(claimed)
        except Exception:
            # The lease runs out and the delivery is due again: nothing is lost.
            log.exception("webhook attempt failed", extra={"endpoint_id": str(endpoint_id)})
        finally:
            self._busy[endpoint_id] -= 1
            if self._busy[endpoint_id] <= 0:
                del self._busy[endpoint_id]
            self._wake.set()

    def _start(self, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        self._busy[endpoint_id] += 1
        task = asyncio.create_task(self._work(tenant_id, endpoint_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_once(self) -> int:
        """One round: starts at most one delivery per lane; returns how many it started."""
        started = 0
        for tenant_id, endpoint_id in await self.due_lanes():
            if len(self._tasks) >= self._policy.max_concurrency:
                break
            if self._busy[endpoint_id] >= self._policy.per_endpoint:
                continue
            self._start(tenant_id, endpoint_id)
            started += 1
        return started

    async def run(self) -> None:
        """Dispatch until cancelled; attempts under way get `drain_seconds` to finish,
        then are cancelled (their leases end and they are sent again)."""
        try:
            while True:
                try:
                    started = await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook dispatch round failed")
                    started = 0
                self._wake.clear()
                if started == 0 or len(self._tasks) >= self._policy.max_concurrency:
                    await wait_for_event(self._wake, self._policy.poll_seconds)
                else:
                    await asyncio.sleep(0)
        finally:
            # Shutting down: attempts under way may finish (and be recorded) for a
            # while, so a deploy does not resend them; the rest wait for their lease.
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self._policy.drain_seconds)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._sender.close()
