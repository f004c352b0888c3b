"""The server interceptor maps what a handler raises to one gRPC status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from sqlalchemy.exc import DBAPIError

from crm_kit.errors import ERROR_CODE_METADATA_KEY
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

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

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
