"""Background loops end when cancelled, even when a wake-up arrives in the same turn."""

from __future__ import annotations

import asyncio

import pytest

from crm_kit.background import wait_for_event

pytestmark = pytest.mark.unit


async def _woken_forever(event: asyncio.Event) -> None:
    """A worker loop as the outbox relay and the webhook dispatcher run one."""
    while True:
        await wait_for_event(event, 10)
        event.clear()


class TestWaitForEvent:
    async def test_a_cancel_that_meets_a_wake_up_still_ends_the_loop(self) -> None:
        event = asyncio.Event()
        worker = asyncio.create_task(_woken_forever(event))
        await asyncio.sleep(0)  # the worker now waits for the event

        event.set()
        worker.cancel()
        done, _ = await asyncio.wait({worker}, timeout=5)

        assert worker in done, "the cancellation was swallowed and the loop runs on"
        assert worker.cancelled()

    async def test_reports_whether_the_event_was_set(self) -> None:
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, event.set)

        assert await wait_for_event(event, 5) is True
        assert await wait_for_event(asyncio.Event(), 0.01) is False
