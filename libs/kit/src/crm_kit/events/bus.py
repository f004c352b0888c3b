"""NATS JetStream connection and stream provisioning."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

STREAM_NAME = "CRM"
STREAM_SUBJECTS = ["crm.>"]
# JetStream drops a second publish with the same Nats-Msg-Id inside this window;
# consumers' processed-event tables cover anything older.
DUPLICATE_WINDOW_SECONDS = 600
# How long shutdown waits for the server to confirm it has what was written.
FLUSH_ON_CLOSE_SECONDS = 2


def subject_for(event_type: str) -> str:
    """`crm_core.contact.created` travels on `crm.crm_core.contact.created`."""
    return f"crm.{event_type}"


async def connect(url: str, *, name: str) -> Client:
    """Connect, retrying until the server answers; afterwards nats-py reconnects by itself."""
    delay = 0.2
    while True:
        try:
            return await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
            )
        except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
            log.warning(
                "NATS not reachable, retrying",
                extra={"server": _without_credentials(url), "error": type(exc).__name__},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def close(nc: Client) -> None:
    """Send what is still buffered (the last acks), then close.

    Not `drain`: by now the consumers are stopped, and a message that reached a pull
    subscription's queue after its fetch ended would hold drain until its 30 s timeout,
    longer than an orchestrator waits after SIGTERM. An event left unacked is simply
    redelivered to the next process, and the processed-events table absorbs repeats."""
    if nc.is_closed:
        return
    try:
        await nc.flush(timeout=FLUSH_ON_CLOSE_SECONDS)
    except (nats.errors.Error, TimeoutError) as exc:
        log.warning("could not flush before closing NATS", extra={"error": type(exc).__name__})
    await nc.close()


def _without_credentials(url: str) -> str:
    parsed = urlsplit(url)
    return f"{parsed.scheme}://{parsed.hostname}:{parsed.port}"


async def ensure_stream(js: JetStreamContext) -> None:
    """Create the platform stream, or bring its config up to date."""
    config = StreamConfig(
        name=STREAM_NAME,
        subjects=STREAM_SUBJECTS,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )
    try:
        await js.stream_info(STREAM_NAME)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)
