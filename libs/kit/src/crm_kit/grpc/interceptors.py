"""Server and client interceptors that carry the request context across gRPC.

The server side verifies the forwarded access token itself (a service reached
directly is no weaker than one reached through the gateway), rejects an
`x-tenant-id` that disagrees with the token, binds the `RequestContext`, and maps
`ServiceError` to one gRPC status. The client side (`ContextChannel`) forwards that
context.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from grpc.aio import ServicerContext
from sqlalchemy.exc import DBAPIError

from crm_kit.auth.tokens import AccessTokenVerifier
from crm_kit.context import RequestContext, bind_context, current_context
from crm_kit.errors import (
    ERROR_CODE_METADATA_KEY,
    ERROR_FIELD_METADATA_KEY,
    ServiceError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

# Methods every caller may reach without a token.
ALWAYS_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Behavior = Callable[[Any, ServicerContext], Awaitable[Any]]


def _metadata(context: ServicerContext) -> dict[str, str]:
    return {
        key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)
    }


class ContextServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, verifier: AccessTokenVerifier | None, *, public_methods: Collection[str] = ()
    ) -> None:
        self._verifier = verifier
        self._public = frozenset(public_methods)
        # The guarded handler of each served method, built on its first call: the
        # servicers are fixed once the server starts. Unknown methods are not kept.
        self._guarded: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        guarded = self._guarded.get(method)
        if guarded is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            guarded = self._guarded[method] = self._guard(method, handler)
        return guarded

    def _guard(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if method.startswith(ALWAYS_PUBLIC_PREFIXES):
            return handler
        public = method in self._public
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._guarded_unary(method, public, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._guarded_unary(method, public, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._guarded_stream(method, public, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        raise RuntimeError(f"{method}: bidirectional streaming methods are not served")

    def _guarded_unary(self, method: str, public: bool, behavior: Behavior) -> Behavior:
        """One response (the request may be a stream): bound context, mapped errors."""

        async def guarded(request: Any, context: ServicerContext) -> Any:
            with _mapped_errors(method, context) as failed:
                ctx = await self._context_for(_metadata(context), public=public)
                with bind_context(ctx):
                    return await behavior(request, context)
            await failed.abort()

        return guarded

    def _guarded_stream(
        self, method: str, public: bool, behavior: Callable[[Any, ServicerContext], Any]
    ) -> Callable[[Any, ServicerContext], AsyncIterator[Any]]:
        """A response stream: the context stays bound and errors map until the last message.

        An error after some messages went out still ends the call with the mapped status.
        """

        async def guarded(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            with _mapped_errors(method, context) as failed:
                ctx = await self._context_for(_metadata(context), public=public)
                with bind_context(ctx):
                    async for response in behavior(request, context):
                        yield response
            await failed.abort()

        return guarded

    async def _context_for(self, metadata: dict[str, str], *, public: bool) -> RequestContext:
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex
        traceparent = metadata.get("traceparent", "")[:55]
        client_ip = metadata.get("x-client-ip", "")[:64]
        user_agent = metadata.get("x-user-agent", "")[:512]
        authorization = metadata.get("authorization", "")
        if public and not authorization:
            return RequestContext(
                request_id=request_id,
                actor_kind="anonymous",
                client_ip=client_ip,
                user_agent=user_agent,
                traceparent=traceparent,
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token or self._verifier is None:
            raise Unauthenticated("a bearer access token is required")
        principal = await self._verifier.verify(token)
        claimed_tenant = metadata.get("x-tenant-id")
        if claimed_tenant is not None and claimed_tenant != str(principal.tenant_id):
            raise Unauthenticated(
                "x-tenant-id does not match the access token", code="tenant_mismatch"
            )
        return RequestContext(
            request_id=request_id,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            roles=principal.roles,
            access_token=token,
            actor_kind=principal.actor_kind,
            scopes=principal.scopes,
            session_id=principal.session_id,
            client_ip=client_ip,
            user_agent=user_agent,
            traceparent=traceparent,
        )


class _Failure:
    """The status a failed call ends with, decided inside `_mapped_errors`."""

    def __init__(self, context: ServicerContext) -> None:
        self._context = context
        self.error: ServiceError | None = None
        self.internal = False

    async def abort(self) -> None:
        if self.error is not None:
            await _abort(self._context, self.error)
        elif self.internal:
            await self._context.abort(grpc.StatusCode.INTERNAL, "internal error")


@contextmanager
def _mapped_errors(method: str, context: ServicerContext) -> Iterator[_Failure]:
    """Records what the handler raised as one status; the caller aborts after the block.

    Aborting outside the `except` keeps grpc's own abort exception (and, for a response
    stream, the generator's close) from being caught and mapped a second time.
    """
    failed = _Failure(context)
    try:
        yield failed
    except ServiceError as error:
        failed.error = error
    except DBAPIError as error:
        failed.error = _database_error(method, error)
    except grpc.aio.AbortError:
        raise
    except Exception:
        # Never the exception's text: it may quote SQL or values.
        log.exception("unhandled error in %s", method)
        failed.internal = True


def _database_error(method: str, error: DBAPIError) -> ServiceError:
    """A lost database connection is worth a retry (UNAVAILABLE); anything else is a bug.

    Pools do not ping before each checkout (a round trip per request): a connection the
    server dropped fails its first statement, SQLAlchemy invalidates the pool, and the
    caller's retry gets a fresh connection.
    """
    if error.connection_invalidated:
        log.warning("database connection lost in %s", method)
        return Unavailable("the database connection was lost; retry", code="database_unavailable")
    # Never the exception's text: it may quote SQL or values.
    log.error("database error in %s", method, exc_info=error)
    return ServiceError("internal error", code="internal")


async def _abort(context: ServicerContext, error: ServiceError) -> None:
    trailing = [(ERROR_CODE_METADATA_KEY, error.code)]
    if isinstance(error.details.get("field"), str):
        trailing.append((ERROR_FIELD_METADATA_KEY, error.details["field"]))
    context.set_trailing_metadata(tuple(trailing))
    await context.abort(error.status, error.message)


def outgoing_metadata(ctx: RequestContext) -> list[tuple[str, str]]:
    """The metadata a downstream call carries for the current caller."""
    metadata = [("x-request-id", ctx.request_id)]
    if ctx.access_token:
        metadata.append(("authorization", f"Bearer {ctx.access_token}"))
    if ctx.tenant_id:
        metadata.append(("x-tenant-id", str(ctx.tenant_id)))
    if ctx.user_id:
        metadata.append(("x-user-id", str(ctx.user_id)))
    if ctx.roles:
        metadata.append(("x-roles", ",".join(ctx.roles)))
    if ctx.traceparent:
        metadata.append(("traceparent", ctx.traceparent))
    if ctx.client_ip:
        metadata.append(("x-client-ip", ctx.client_ip))
    if ctx.user_agent:
        metadata.append(("x-user-agent", ctx.user_agent))
    return metadata


def _with_caller(metadata: Any) -> grpc.aio.Metadata:
    """The call's own metadata plus the caller's context, for the keys it does not set."""
    merged = grpc.aio.Metadata(*(metadata or ()))
    for key, value in outgoing_metadata(current_context()):
        if key not in merged:
            merged.add(key, value)
    return merged


class _ContextMultiCallable:
    """A method of a `ContextChannel`: the call with the caller's context and a deadline.

    In place of grpc.aio's client interceptors, which run each call's interceptor chain
    in a task of its own beside the call's: about 0.1 ms of CPU per call here."""

    def __init__(self, inner: Any, default_timeout: float) -> None:
        self._inner = inner
        self._default_timeout = default_timeout

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._inner(
            request,
            timeout=timeout or self._default_timeout,
            metadata=_with_caller(metadata),
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )


class ContextChannel(grpc.aio.Channel):
    """A channel whose every call carries the caller's context and a default deadline."""

    def __init__(self, channel: grpc.aio.Channel, *, default_timeout: float) -> None:
        self._channel = channel
        self._default_timeout = default_timeout

    def _wrap(self, multicallable: Any) -> Any:
        return _ContextMultiCallable(multicallable, self._default_timeout)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._channel.unary_unary(method, *args, **kwargs))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._channel.unary_stream(method, *args, **kwargs))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._channel.stream_unary(method, *args, **kwargs))

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._wrap(self._channel.stream_stream(method, *args, **kwargs))

    async def __aenter__(self) -> ContextChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()


def insecure_channel(address: str, *, default_timeout: float = 10.0) -> grpc.aio.Channel:
    """A channel to another service that forwards the caller's context."""
    return ContextChannel(
        grpc.aio.insecure_channel(
            address, options=[("grpc.enable_retries", 1), ("grpc.keepalive_time_ms", 30_000)]
        ),
        default_timeout=default_timeout,
    )
