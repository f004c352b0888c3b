"""The request context: who is calling, for which tenant, under which request id.

Set once at the edge (gateway route, gRPC interceptor, event consumer) and read by
logging, the outbox and the gRPC client interceptor, so nothing passes it by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from crm_kit.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    roles: tuple[str, ...] = ()
    # The verified access token, forwarded as-is on downstream calls.
    access_token: str | None = None
    # "user", "api_key", "system" or "anonymous".
    actor_kind: str = "user"
    # An API key's scopes (`contacts:read` ...); empty for users, whose roles rule.
    scopes: tuple[str, ...] = ()
    # The access token's session (refresh-token family), when it has one.
    session_id: str | None = None
    # Where the request came from, as the gateway saw it; informational only.
    client_ip: str = ""
    user_agent: str = ""
    # W3C trace context of the request, forwarded on every downstream call.
    traceparent: str = ""

    def require_user(self) -> uuid.UUID:
        """The calling user (or API key) id; a call without one is refused."""
        if self.user_id is None:
            raise Unauthenticated("this call needs a signed-in user")
        return self.user_id

    def require_tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise Unauthenticated("this call needs an authenticated tenant")
        return self.tenant_id


_current: ContextVar[RequestContext | None] = ContextVar("crm_request_context", default=None)


def current_context() -> RequestContext:
    """The context of the running request, or an anonymous one outside any request."""
    return _current.get() or RequestContext(request_id="-")


def bind_for_this_task(ctx: RequestContext) -> None:
    """Bind `ctx` until the current asyncio task ends (each task has its own copy of the
    context). For a step inside a request's own task, such as a FastAPI dependency, where
    a context manager around the rest of the request would cost a wrapper per request;
    the request's outer `bind_context` still restores the previous value at its end."""
    _current.set(ctx)


@contextmanager
def bind_context(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
