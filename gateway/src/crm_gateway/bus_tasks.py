"""What the gateway does on the event bus, beside the app: it follows the identity
events it keeps in memory (revoked access, revoked API keys) and publishes its API
request logs.

Never blocks the app: while NATS is unreachable the gateway keeps serving, logs it,
keeps request logs queued, and catches up once NATS is back.
"""

from __future__ import annotations

import asyncio
import logging

from crm_gateway.api_keys import ApiKeyCache, follow_api_key_revocations
from crm_gateway.request_log import RequestLog
from crm_gateway.settings import GatewaySettings
from crm_kit.auth.revocations import RevocationList, follow_revocations
from crm_kit.events import bus

log = logging.getLogger(__name__)


async def run_bus_tasks(
    settings: GatewaySettings,
    revocations: RevocationList,
    api_keys: ApiKeyCache,
    request_log: RequestLog,
) -> None:
    if not settings.nats_url:
        log.warning("no NATS URL: revoked tokens and API keys stay valid here until expiry")
        return
    delay = 1.0
    while True:
        try:
            nc = await bus.connect(settings.nats_url, name="gateway")
            try:
                js = nc.jetstream()
                await bus.ensure_stream(js)
                # Any task failing cancels the others; they restart together.
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(follow_revocations(js, revocations))
                    tasks.create_task(follow_api_key_revocations(js, api_keys))
                    tasks.create_task(request_log.publish_forever(js))
            finally:
                await nc.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event bus tasks failed; retrying", extra={"in": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
