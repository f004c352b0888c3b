"""Work that runs beside requests: what a request starts but does not wait for (so its
answer time reveals nothing), and the loops a service keeps going until shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Keeps a reference to each task (asyncio would drop it) and logs its failure."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for everything started so far (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def repeat(
    step: Callable[[], Awaitable[bool | None]], *, idle_seconds: float, what: str
) -> None:
    """Run `step` until cancelled: again at once after a step that did work (returned
    True), after `idle_seconds` otherwise. A failing step is logged and waits like an idle
    one, so a database blip or one bad job never ends a worker."""
    while True:
        try:
            busy = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; trying again", what)
            busy = False
        if not busy:
            await asyncio.sleep(idle_seconds)


async def wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set (True) or `seconds` pass (False).

    Not `asyncio.wait_for(event.wait(), ...)`: before Python 3.12 it returns normally
    when the event is set in the same loop turn as the task is cancelled, so a loop
    that a wake-up keeps busy can swallow its shutdown and never end."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
