"""ContextChannel: every call carries the caller's context and a default deadline."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio

from crm_kit.context import RequestContext, bind_context
from crm_kit.grpc.interceptors import insecure_channel

pytestmark = pytest.mark.unit

METHOD = "/test.v1.Echo/Metadata"


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    """What the call arrived with: its metadata and the seconds left to its deadline."""
    metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
    return json.dumps({"metadata": metadata, "remaining": context.time_remaining()}).encode()


@pytest_asyncio.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.v1.Echo", {"Metadata": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def call(address: str, **options: Any) -> dict[str, Any]:
    async with insecure_channel(address, default_timeout=7.0) as channel:
        answer: bytes = await channel.unary_unary(METHOD)(b"", **options)
    result: dict[str, Any] = json.loads(answer)
    return result


class TestContextChannel:
    async def test_the_callers_context_travels_as_metadata(self, address: str) -> None:
        ctx = RequestContext(
            request_id="req-12345678",
            tenant_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            roles=("admin", "member"),
            access_token="token-abc",
            client_ip="192.0.2.7",
        )
        with bind_context(ctx):
            metadata = (await call(address))["metadata"]

        assert metadata["x-request-id"] == "req-12345678"
        assert metadata["authorization"] == "Bearer token-abc"
        assert metadata["x-tenant-id"] == str(ctx.tenant_id)
        assert metadata["x-user-id"] == str(ctx.user_id)
        assert metadata["x-roles"] == "admin,member"
        assert metadata["x-client-ip"] == "192.0.2.7"

    async def test_metadata_the_call_sets_itself_wins(self, address: str) -> None:
        with bind_context(RequestContext(request_id="req-12345678", access_token="mine")):
            metadata = (
                await call(address, metadata=(("authorization", "Bearer theirs"), ("x-extra", "1")))
            )["metadata"]

        assert metadata["authorization"] == "Bearer theirs"
        assert metadata["x-extra"] == "1"
        assert metadata["x-request-id"] == "req-12345678"

    async def test_a_call_without_a_timeout_gets_the_default_deadline(self, address: str) -> None:
        # Deadlines travel as absolute times: allow the clocks' rounding either side.
        assert 6.0 < (await call(address))["remaining"] < 7.5
        assert 1.0 < (await call(address, timeout=2.0))["remaining"] < 2.5
