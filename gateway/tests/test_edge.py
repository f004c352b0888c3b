"""The edge drops internal headers a client sends and gives every response a request id."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from crm_gateway.edge import EdgeMiddleware
from crm_kit.context import current_context

pytestmark = pytest.mark.unit

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class RecordingApp:
    """A tiny ASGI app that records what reached it and answers with a `server` header."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    request_id: str = ""
    traceparent: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers = list(scope["headers"])
        self.request_id = current_context().request_id
        self.traceparent = current_context().traceparent
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"server", b"uvicorn"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})


async def call_edge(
    app: RecordingApp, headers: list[tuple[bytes, bytes]], *, scheme: str = "http"
) -> list[tuple[bytes, bytes]]:
    """Run one GET through EdgeMiddleware; the response headers it sent."""
    scope: Scope = {
        "type": "http",
        "scheme": scheme,
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers,
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await EdgeMiddleware(app)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return list(start["headers"])


class TestInternalHeaders:
    @pytest.mark.parametrize(
        "name",
        [b"x-tenant-id", b"x-user-id", b"x-roles", b"x-forwarded-for", b"x-forwarded-host"],
    )
    async def test_client_sent_internal_header_never_reaches_the_app(self, name: bytes) -> None:
        app = RecordingApp()

        await call_edge(app, [(name, b"spoofed"), (b"accept", b"application/json")])

        assert name not in {k for k, _ in app.headers}
        assert (b"accept", b"application/json") in app.headers

    async def test_other_headers_reach_the_app_unchanged(self) -> None:
        app = RecordingApp()
        sent = [
            (b"authorization", b"Bearer abc"),
            (b"if-match", b'"3"'),
            (b"x-custom", b"kept"),
            (b"user-agent", b"pytest"),
        ]

        await call_edge(app, sent)

        assert app.headers == sent

    async def test_every_internal_header_at_once_is_dropped(self) -> None:
        app = RecordingApp()

        await call_edge(
            app,
            [
                (b"x-tenant-id", b"11111111-1111-1111-1111-111111111111"),
                (b"host", b"api.example"),
                (b"x-user-id", b"22222222-2222-2222-2222-222222222222"),
                (b"x-roles", b"owner"),
                (b"x-forwarded-for", b"10.0.0.1"),
            ],
        )

        assert app.headers == [(b"host", b"api.example")]


class TestRequestId:
    async def test_valid_client_request_id_is_bound_and_echoed(self) -> None:
        app = RecordingApp()

        response_headers = await call_edge(app, [(b"x-request-id", b"client-req_0001.a")])

        assert app.request_id == "client-req_0001.a"
        assert (b"x-request-id", b"client-req_0001.a") in response_headers

    @pytest.mark.parametrize(
        "offered", [b"short", b"has spaces in it", b"x" * 129, b"<script>alert(1)</script>"]
    )
    async def test_bogus_request_id_is_replaced(self, offered: bytes) -> None:
        app = RecordingApp()

        response_headers = await call_edge(app, [(b"x-request-id", offered)])

        echoed = dict(response_headers)[b"x-request-id"].decode()
        assert GENERATED_ID.match(echoed)
        assert app.request_id == echoed

    async def test_server_header_is_removed_and_nosniff_added(self) -> None:
        response_headers = await call_edge(RecordingApp(), [])

        names = [k for k, _ in response_headers]
        assert b"server" not in names
        assert (b"x-content-type-options", b"nosniff") in response_headers
        assert names.count(b"x-request-id") == 1


class TestRequestIdThroughTheApp:
    async def test_valid_client_request_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/missing", headers={"X-Request-Id": "trace-12345678"})

        assert response.headers["x-request-id"] == "trace-12345678"
        assert response.json()["request_id"] == "trace-12345678"

    async def test_bogus_request_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/missing", headers={"X-Request-Id": "bad id!"})

        assert GENERATED_ID.match(response.headers["x-request-id"])
        assert response.json()["request_id"] == response.headers["x-request-id"]

    async def test_no_server_header(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert "server" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
GENERATED_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


class TestTraceContextAndTransportSecurity:
    async def test_a_valid_traceparent_is_carried_into_the_request_context(self) -> None:
        app = RecordingApp()
        await call_edge(app, [(b"traceparent", TRACEPARENT.encode())])
        assert app.traceparent == TRACEPARENT

    @pytest.mark.parametrize(
        "offered", [b"", b"garbage", b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01"]
    )
    async def test_a_missing_or_invalid_traceparent_is_replaced(self, offered: bytes) -> None:
        app = RecordingApp()
        await call_edge(app, [(b"traceparent", offered)] if offered else [])
        assert GENERATED_TRACEPARENT.match(app.traceparent)
        assert app.traceparent.encode() != offered

    async def test_hsts_only_over_tls(self) -> None:
        plain = dict(await call_edge(RecordingApp(), []))
        tls = dict(await call_edge(RecordingApp(), [], scheme="https"))
        assert b"strict-transport-security" not in plain
        assert tls[b"strict-transport-security"].startswith(b"max-age=")
