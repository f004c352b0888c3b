"""The request context: bound per request, never seen by another request's task."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from crm_kit.context import bind_context, bind_for_this_task, current_context

pytestmark = pytest.mark.unit


class TestBindForThisTask:
    async def test_bound_until_the_outer_binding_ends(self) -> None:
        before = current_context()
        tenant = uuid.uuid4()
        with bind_context(replace(before, request_id="outer")):
            bind_for_this_task(replace(current_context(), tenant_id=tenant))
            assert current_context().tenant_id == tenant
        assert current_context() == before

    async def test_another_task_never_sees_it(self) -> None:
        bound = asyncio.Event()
        seen: list[uuid.UUID | None] = []

        async def request_a() -> None:
            bind_for_this_task(replace(current_context(), tenant_id=uuid.uuid4()))
            bound.set()

        async def request_b() -> None:
            await bound.wait()
            seen.append(current_context().tenant_id)

        await asyncio.gather(asyncio.create_task(request_a()), asyncio.create_task(request_b()))

        assert seen == [None]
