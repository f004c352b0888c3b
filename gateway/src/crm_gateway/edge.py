"""The first thing every request meets: internal headers dropped, request id bound.

Pure ASGI (not BaseHTTPMiddleware) so the request context it binds is the one the
route sees, and so nothing downstream can read a client-sent internal header.
"""

from __future__ import annotations

import re
import secrets
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_kit.context import RequestContext, bind_context

# Headers only the gateway may set. A client sending them is ignored, never trusted.
INTERNAL_HEADERS = frozenset({b"x-tenant-id", b"x-user-id", b"x-roles"})
INTERNAL_PREFIXES = (b"x-forwarded-",)
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_FORMAT = re.compile(rb"^[A-Za-z0-9._-]{8,128}$")
_TRACEPARENT_FORMAT = re.compile(rb"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
HSTS = b"max-age=63072000; includeSubDomains"


def _traceparent(offered: bytes) -> str:
    """The caller's W3C trace context when well formed (and not all-zero), else a new one."""
    if _TRACEPARENT_FORMAT.match(offered) and offered[3:35] != b"0" * 32:
        return offered.decode()
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _is_internal(name: bytes) -> bool:
    return name in INTERNAL_HEADERS or name.startswith(INTERNAL_PREFIXES)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if not _is_internal(k)]
        scope["headers"] = headers
        by_name = dict(headers)
        offered = by_name.get(REQUEST_ID_HEADER, b"")
        request_id = offered.decode() if _REQUEST_ID_FORMAT.match(offered) else uuid.uuid4().hex

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"server"
                ]
                response_headers += [
                    (REQUEST_ID_HEADER, request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
                if scope.get("scheme") == "https":
                    # Only over TLS (directly, or via a trusted proxy's X-Forwarded-Proto).
                    response_headers.append((b"strict-transport-security", HSTS))
                message["headers"] = response_headers
            await send(message)

        client = scope.get("client")
        ctx = RequestContext(
            request_id=request_id,
            actor_kind="anonymous",
            client_ip=client[0] if client else "",
            user_agent=by_name.get(b"user-agent", b"").decode("latin-1")[:512],
            traceparent=_traceparent(by_name.get(b"traceparent", b"")),
        )
        with bind_context(ctx):
            await self.app(scope, receive, send_with_request_id)
