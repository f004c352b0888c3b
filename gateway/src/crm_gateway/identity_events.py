"""The identity events the gateway keeps in memory: revoked access and revoked API keys.

Runs beside the app and never blocks it: while NATS is unreachable the gateway keeps
serving, logs it, and catches up (from the retention horizon) once NATS is back.
"""

from __future__ import annotations

import asyncio
import logging

from crm_gateway.api_keys import ApiKeyCache, follow_api_key_revocations
from crm_gateway.settings import GatewaySettings
from crm_kit.auth.revocations import RevocationList, follow_revocations
from crm_kit.events import bus

log = logging.getLogger(__name__)


async def follow_identity_events(
    settings: GatewaySettings, revocations: RevocationList, api_keys: ApiKeyCache
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
                # Either follower failing cancels the other; both restart together.
                async with asyncio.TaskGroup() as followers:
                    followers.create_task(follow_revocations(js, revocations))
                    followers.create_task(follow_api_key_revocations(js, api_keys))
            finally:
                await nc.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following identity events failed; retrying", extra={"in": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
