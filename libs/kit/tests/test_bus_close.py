"""Shutdown closes NATS promptly even with messages nobody will read, and still sends
what was written last (the final acks)."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from crm_devstack.testing import TEST_NATS_URL
from crm_kit.events import bus

pytestmark = pytest.mark.integration


async def test_close_returns_with_unread_messages_and_flushes_the_last_write() -> None:
    subject = f"kit-tests.close.{uuid.uuid4().hex}"
    watcher = await nats.connect(TEST_NATS_URL)
    closing = await nats.connect(TEST_NATS_URL)
    try:
        # A subscription without a callback keeps messages in its queue until read, as
        # a pull subscription does with a batch that arrives after its fetch ended.
        unread = await closing.subscribe(f"{subject}.in")
        seen = await watcher.subscribe(f"{subject}.out")
        # Both interests are on the server before anything is published to them.
        await closing.flush()
        await watcher.flush()
        await watcher.publish(f"{subject}.in", b"never read")
        await watcher.flush()
        # The server acknowledges the publish before it delivers the message to `closing`.
        for _ in range(500):
            if unread.pending_msgs:
                break
            await asyncio.sleep(0.02)
        assert unread.pending_msgs == 1
        await closing.publish(f"{subject}.out", b"last ack")

        # drain() would wait for the unread message until its 30 s timeout.
        closing_task = asyncio.create_task(bus.close(closing))
        done, _ = await asyncio.wait({closing_task}, timeout=10)

        assert closing_task in done, "close waited for a message nobody will read"

        assert closing.is_closed
        delivered = await seen.next_msg(timeout=5)
        assert delivered.data == b"last ack"
    finally:
        await watcher.close()
        await closing.close()


async def test_close_of_a_closed_connection_is_a_no_op() -> None:
    nc = await nats.connect(TEST_NATS_URL)
    await nc.close()

    await bus.close(nc)

    assert nc.is_closed
