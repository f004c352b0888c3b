"""API request logs for the audit trail, published in batches off the hot path.

A pure ASGI middleware notes each answered request (method, route template, status,
latency, principal, tenant, IP, user agent) in a bounded in-memory queue; a
background task publishes them to JetStream in batches. A full queue (NATS down for
long) drops the oldest entries and says so in the log, so requests never wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm.events.v1 import gateway_pb2
from crm_kit.context import RequestContext, current_context
from crm_kit.events.bus import subject_for
from crm_kit.events.outbox import build_envelope

log = logging.getLogger(__name__)

EVENT_TYPE = "gateway.api_requests.logged"
# Where authentication leaves the caller's context on the request state.
CALLER_STATE_KEY = "caller"
BATCH_SIZE = 200
FLUSH_SECONDS = 1.0


class RequestLog:
    def __init__(self, *, capacity: int = 50_000) -> None:
        self._entries: deque[gateway_pb2.ApiRequestLogged] = deque(maxlen=capacity)
        self._dropped = 0

    def note(self, entry: gateway_pb2.ApiRequestLogged) -> None:
        if len(self._entries) == self._entries.maxlen:
            self._dropped += 1
        self._entries.append(entry)

    def take(self, limit: int) -> list[gateway_pb2.ApiRequestLogged]:
        return [self._entries.popleft() for _ in range(min(limit, len(self._entries)))]

    def put_back(self, entries: list[gateway_pb2.ApiRequestLogged]) -> None:
        self._entries.extendleft(reversed(entries))

    async def publish_forever(self, js: JetStreamContext) -> None:
        """Publish a batch whenever there is one, at least every FLUSH_SECONDS."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self._dropped:
                log.warning("api request log entries dropped", extra={"count": self._dropped})
                self._dropped = 0
            while batch := self.take(BATCH_SIZE):
                envelope = build_envelope(
                    event_type=EVENT_TYPE,
                    source="gateway",
                    tenant_id=None,
                    payload=gateway_pb2.ApiRequestsLogged(requests=batch),
                )
                try:
                    await js.publish(
                        subject_for(EVENT_TYPE),
                        envelope.SerializeToString(),
                        headers={"Nats-Msg-Id": envelope.id},
                    )
                except Exception:
                    self.put_back(batch)
                    raise


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, *, request_log: RequestLog) -> None:
        self.app = app
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.request_log.note(_entry(scope, status, time.perf_counter() - started))


def _entry(scope: Scope, status: int, seconds: float) -> gateway_pb2.ApiRequestLogged:
    edge = current_context()
    # The caller's context is unbound once the route returns; authentication leaves
    # it on the request state for this.
    caller: RequestContext = scope.get("state", {}).get(CALLER_STATE_KEY, edge)
    route = scope.get("route")
    principal_id = str(caller.user_id) if caller.user_id else ""
    at = Timestamp()
    at.GetCurrentTime()
    return gateway_pb2.ApiRequestLogged(
        request_id=edge.request_id,
        method=scope["method"],
        route=getattr(route, "path", "") or "(unmatched)",
        status=status,
        latency_ms=round(seconds * 1000, 3),
        principal_kind=caller.actor_kind if principal_id else "anonymous",
        principal_id=principal_id,
        tenant_id=str(caller.tenant_id) if caller.tenant_id else "",
        client_ip=edge.client_ip,
        user_agent=edge.user_agent,
        at=at,
    )
