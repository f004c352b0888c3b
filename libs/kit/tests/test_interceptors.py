"""The server interceptor maps what a handler raises to one gRPC status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from sqlalchemy.exc import DBAPIError

from crm_kit.context import current_context
from crm_kit.errors import ERROR_CODE_METADATA_KEY, NotFound, QuotaExceeded
from crm_kit.grpc.interceptors import ContextServerInterceptor

pytestmark = pytest.mark.unit

METHOD = "/test.v1.Things/GetThing"


class Aborted(Exception):
    pass


@dataclass
class RecordingContext:
    """The parts of grpc.aio.ServicerContext the interceptor uses, recording the abort."""

    status: grpc.StatusCode | None = None
    trailing: Sequence[tuple[str, str]] = field(default_factory=tuple)

    metadata: tuple[tuple[str, str], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        self.trailing = metadata

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.status = code
        raise Aborted(details)


@dataclass(frozen=True)
class CallDetails:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


async def call_raising(error: Exception) -> RecordingContext:
    async def behavior(request: Any, context: Any) -> Any:
        raise error

    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(behavior)

    interceptor = ContextServerInterceptor(None, public_methods={METHOD})
    handler = await interceptor.intercept_service(continuation, CallDetails(METHOD))
    context = RecordingContext()
    with pytest.raises(Aborted):
        await handler.unary_unary(object(), context)
    return context


class TestDatabaseErrors:
    async def test_a_lost_connection_is_unavailable_so_callers_retry(self) -> None:
        lost = DBAPIError("SELECT 1", None, ConnectionError("closed"), connection_invalidated=True)

        context = await call_raising(lost)

        assert context.status is grpc.StatusCode.UNAVAILABLE
        assert (ERROR_CODE_METADATA_KEY, "database_unavailable") in context.trailing

    async def test_any_other_database_error_is_internal_without_its_text(self) -> None:
        broken = DBAPIError("SELECT secret", None, ValueError("boom"))

        context = await call_raising(broken)

        assert context.status is grpc.StatusCode.INTERNAL
        assert (ERROR_CODE_METADATA_KEY, "internal") in context.trailing


async def intercepted(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def continuation(details: Any) -> grpc.RpcMethodHandler:
        return handler

    interceptor = ContextServerInterceptor(None, public_methods={METHOD})
    return await interceptor.intercept_service(continuation, CallDetails(METHOD))


async def chunks(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


REQUEST_ID = (("x-request-id", "req-1"),)


class TestRequestStreams:
    async def test_the_handler_reads_the_stream_with_the_context_bound(self) -> None:
        async def upload(requests: AsyncIterator[bytes], context: Any) -> str:
            parts = [part async for part in requests]
            return f"{current_context().request_id}:{b''.join(parts).decode()}"

        handler = await intercepted(grpc.stream_unary_rpc_method_handler(upload))

        reply = await handler.stream_unary(
            chunks(b"a", b"b"), RecordingContext(metadata=REQUEST_ID)
        )

        assert reply == "req-1:ab"

    async def test_a_service_error_maps_to_its_status(self) -> None:
        async def upload(requests: AsyncIterator[bytes], context: Any) -> str:
            raise QuotaExceeded("too big", code="file_too_large")

        handler = await intercepted(grpc.stream_unary_rpc_method_handler(upload))
        context = RecordingContext()

        with pytest.raises(Aborted):
            await handler.stream_unary(chunks(b"a"), context)

        assert context.status is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (ERROR_CODE_METADATA_KEY, "file_too_large") in context.trailing


class TestResponseStreams:
    async def test_every_message_is_produced_with_the_context_bound(self) -> None:
        async def download(request: Any, context: Any) -> AsyncIterator[str]:
            for part in ("a", "b"):
                yield f"{current_context().request_id}:{part}"

        handler = await intercepted(grpc.unary_stream_rpc_method_handler(download))

        replies = [
            r async for r in handler.unary_stream(object(), RecordingContext(metadata=REQUEST_ID))
        ]

        assert replies == ["req-1:a", "req-1:b"]
        assert current_context().request_id == "-"

    async def test_an_error_after_some_messages_still_ends_with_its_status(self) -> None:
        async def download(request: Any, context: Any) -> AsyncIterator[str]:
            yield "first"
            raise NotFound("gone", code="file_not_found")

        handler = await intercepted(grpc.unary_stream_rpc_method_handler(download))
        context = RecordingContext()
        replies: list[str] = []

        async def drain() -> None:
            async for reply in handler.unary_stream(object(), context):
                replies.append(reply)

        with pytest.raises(Aborted):
            await drain()

        assert replies == ["first"]
        assert context.status is grpc.StatusCode.NOT_FOUND
        assert (ERROR_CODE_METADATA_KEY, "file_not_found") in context.trailing

    async def test_an_unexpected_error_is_internal(self) -> None:
        async def download(request: Any, context: Any) -> AsyncIterator[str]:
            raise RuntimeError("secret")
            yield "never"

        handler = await intercepted(grpc.unary_stream_rpc_method_handler(download))
        context = RecordingContext()

        with pytest.raises(Aborted):
            _ = [reply async for reply in handler.unary_stream(object(), context)]

        assert context.status is grpc.StatusCode.INTERNAL


class TestHandlerReuse:
    async def test_each_call_of_a_method_binds_its_own_context(self) -> None:
        async def whoami(request: Any, context: Any) -> str:
            return current_context().request_id

        async def continuation(details: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(whoami)

        interceptor = ContextServerInterceptor(None, public_methods={METHOD})
        replies = []
        for request_id in ("req-first", "req-second"):
            handler = await interceptor.intercept_service(continuation, CallDetails(METHOD))
            context = RecordingContext(metadata=(("x-request-id", request_id),))
            replies.append(await handler.unary_unary(object(), context))

        assert replies == ["req-first", "req-second"]

    async def test_an_unknown_method_stays_unknown(self) -> None:
        async def continuation(details: Any) -> None:
            return None

        interceptor = ContextServerInterceptor(None)
        for _ in range(2):
            assert await interceptor.intercept_service(continuation, CallDetails(METHOD)) is None
