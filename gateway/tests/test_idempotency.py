"""Idempotency-Key on POST: a retry replays the first final answer and never runs twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from crm_gateway.edge import EdgeMiddleware
from crm_gateway.idempotency import (
    IdempotencyMiddleware,
    IdempotencyStore,
    MemoryIdempotencyStore,
    store_from_url,
)
from crm_gateway.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.unit

ORDERS = "/test/orders"
INVALID_LOGIN = {"email": "", "password": "whatever"}


@dataclass
class OrderRoute:
    """A test-only route: counts its calls and answers the statuses queued, then 201."""

    calls: int = 0
    statuses: list[int] = field(default_factory=list)

    async def __call__(self) -> JSONResponse:
        self.calls += 1
        status = self.statuses.pop(0) if self.statuses else 201
        if status == 0:
            raise RuntimeError("the handler failed")
        order_id = str(uuid.uuid4())
        headers = {"Location": f"{ORDERS}/{order_id}", "Cache-Control": "private"}
        return JSONResponse({"id": order_id}, status_code=status, headers=headers)


@pytest.fixture
def orders(app: FastAPI) -> OrderRoute:
    route = OrderRoute()
    app.add_api_route(ORDERS, route, methods=["POST", "PUT"])
    return route


def keyed(key: str | None = None, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key or uuid.uuid4().hex, **headers}


class TestKeyFormat:
    @pytest.mark.parametrize("key", [b"", b"k" * 256, "caf\u00e9".encode(), b"tab\there"])
    async def test_a_malformed_key_is_422(
        self, client: httpx.AsyncClient, orders: OrderRoute, key: bytes
    ) -> None:
        response = await client.post(ORDERS, json={}, headers={"Idempotency-Key": key})

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "invalid_idempotency_key"
        assert orders.calls == 0

    async def test_a_key_of_255_printable_characters_is_accepted(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        response = await client.post(ORDERS, json={}, headers=keyed("a b~" * 63 + "xyz"))

        assert response.status_code == 201


class TestReplay:
    async def test_a_retry_replays_the_first_answer_without_running_again(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        headers = keyed()

        first = await client.post(ORDERS, json={"n": 1}, headers=headers)
        retry = await client.post(ORDERS, json={"n": 1}, headers=headers)

        assert orders.calls == 1
        assert (first.status_code, retry.status_code) == (201, 201)
        assert retry.content == first.content
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers

    async def test_a_replay_has_its_own_request_id(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        headers = keyed()

        first = await client.post(ORDERS, json={}, headers=headers)
        retry = await client.post(ORDERS, json={}, headers=headers)

        assert retry.headers["x-request-id"] != first.headers["x-request-id"]
        assert retry.headers.get_list("x-request-id") == [retry.headers["x-request-id"]]

    async def test_a_refusal_from_validation_is_a_final_answer_and_replayed(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = keyed()

        # The login limit is 2/minute: only the first of these runs the route.
        responses = [
            await client.post("/v1/auth/login", json=INVALID_LOGIN, headers=headers)
            for _ in range(3)
        ]

        assert [r.status_code for r in responses] == [422, 422, 422]
        assert responses[0].json()["code"] == "validation_failed"
        assert responses[2].content == responses[0].content
        assert [r.headers.get("idempotent-replayed") for r in responses] == [None, "true", "true"]

    async def test_posts_without_a_key_run_every_time(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        await client.post(ORDERS, json={})
        await client.post(ORDERS, json={})

        assert orders.calls == 2

    async def test_other_methods_ignore_the_key(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        headers = keyed()

        await client.put(ORDERS, json={}, headers=headers)
        second = await client.put(ORDERS, json={}, headers=headers)

        assert orders.calls == 2
        assert "idempotent-replayed" not in second.headers


class TestReuse:
    async def test_the_same_key_with_another_body_is_422(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        headers = keyed()
        await client.post(ORDERS, json={"n": 1}, headers=headers)

        response = await client.post(ORDERS, json={"n": 2}, headers=headers)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "idempotency_key_reused"
        assert orders.calls == 1

    async def test_the_same_key_on_another_path_is_422(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        headers = keyed()
        await client.post(ORDERS, json=INVALID_LOGIN, headers=headers)

        response = await client.post("/v1/auth/login", json=INVALID_LOGIN, headers=headers)

        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"


class TestCallerScope:
    async def test_callers_with_other_credentials_never_share_an_answer(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        key = uuid.uuid4().hex

        ada = await client.post(ORDERS, json={}, headers=keyed(key, Authorization="Bearer ada"))
        bob = await client.post(ORDERS, json={}, headers=keyed(key, Authorization="Bearer bob"))

        assert orders.calls == 2
        assert ada.json() != bob.json()
        assert "idempotent-replayed" not in bob.headers

    async def test_anonymous_callers_are_scoped_by_client_ip(
        self, app: FastAPI, orders: OrderRoute
    ) -> None:
        headers = keyed()

        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
            transport = httpx.ASGITransport(app=app, client=(ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await client.post(ORDERS, json={}, headers=headers)

        assert orders.calls == 2


class TestAnswersNotKept:
    @pytest.mark.parametrize("status", [409, 429, 500, 503])
    async def test_a_retry_after_a_non_final_answer_runs_again(
        self, client: httpx.AsyncClient, orders: OrderRoute, status: int
    ) -> None:
        orders.statuses = [status]
        headers = keyed()

        first = await client.post(ORDERS, json={}, headers=headers)
        retry = await client.post(ORDERS, json={}, headers=headers)

        assert (first.status_code, retry.status_code) == (status, 201)
        assert orders.calls == 2
        assert "idempotent-replayed" not in retry.headers

    async def test_a_raised_error_releases_the_key(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        orders.statuses = [0]
        headers = keyed()

        first = await client.post(ORDERS, json={}, headers=headers)
        retry = await client.post(ORDERS, json={}, headers=headers)

        assert first.status_code == 500
        assert first.json()["code"] == "internal"
        assert retry.status_code == 201
        assert orders.calls == 2

    async def test_a_client_error_is_kept(
        self, client: httpx.AsyncClient, orders: OrderRoute
    ) -> None:
        orders.statuses = [404]
        headers = keyed()

        await client.post(ORDERS, json={}, headers=headers)
        retry = await client.post(ORDERS, json={}, headers=headers)

        assert retry.status_code == 404
        assert orders.calls == 1


class CountingApp:
    """A tiny ASGI app that takes a while to answer 201 and counts how often it ran."""

    def __init__(self, delay: float = 0.05, cache_control: bytes = b"private") -> None:
        self.calls = 0
        self.delay = delay
        self.cache_control = cache_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await receive()
        await asyncio.sleep(self.delay)
        body = f'{{"call": {self.calls}}}'.encode()
        headers = [(b"content-type", b"application/json"), (b"cache-control", self.cache_control)]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest_asyncio.fixture
async def counted() -> AsyncIterator[tuple[CountingApp, httpx.AsyncClient]]:
    """The middleware, with an in-memory store, around a CountingApp."""
    inner = CountingApp()
    app = _guarded(inner, MemoryIdempotencyStore())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield inner, c


def _guarded(inner: CountingApp, store: IdempotencyStore) -> EdgeMiddleware:
    return EdgeMiddleware(
        IdempotencyMiddleware(inner, store=store, ttl_seconds=60, claim_seconds=10)
    )


class TestConcurrentDuplicates:
    async def test_identical_concurrent_requests_run_the_handler_once(
        self, counted: tuple[CountingApp, httpx.AsyncClient]
    ) -> None:
        inner, client = counted
        headers = keyed()

        responses = await asyncio.gather(
            *(client.post("/orders", json={"n": 1}, headers=headers) for _ in range(10))
        )

        assert inner.calls == 1
        assert sorted(r.status_code for r in responses) == [201] + [409] * 9
        refused = [r for r in responses if r.status_code == 409]
        assert {r.json()["code"] for r in refused} == {"idempotency_in_progress"}
        assert {r.headers["retry-after"] for r in refused} == {"1"}

    async def test_after_the_first_finishes_a_retry_replays_it(
        self, counted: tuple[CountingApp, httpx.AsyncClient]
    ) -> None:
        inner, client = counted
        headers = keyed()
        await asyncio.gather(*(client.post("/orders", json={}, headers=headers) for _ in range(3)))

        retry = await client.post("/orders", json={}, headers=headers)

        assert inner.calls == 1
        assert retry.json() == {"call": 1}
        assert retry.headers["idempotent-replayed"] == "true"


class TestStore:
    async def test_a_no_store_answer_is_never_kept(self) -> None:
        # Answers carrying secrets (tokens, keys) say no-store: they must not sit in a store.
        inner = CountingApp(delay=0, cache_control=b"no-store")
        app = _guarded(inner, MemoryIdempotencyStore())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            headers = keyed()
            await c.post("/login", json={}, headers=headers)
            retry = await c.post("/login", json={}, headers=headers)

        assert inner.calls == 2
        assert "idempotent-replayed" not in retry.headers

    async def test_an_unreachable_store_lets_requests_run(self) -> None:
        # Nothing listens on port 1: every store call fails fast.
        inner = CountingApp(delay=0)
        app = _guarded(inner, store_from_url("redis://127.0.0.1:1/0"))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            headers = keyed()
            first = await c.post("/orders", json={}, headers=headers)
            second = await c.post("/orders", json={}, headers=headers)

        assert (first.status_code, second.status_code) == (201, 201)
        assert inner.calls == 2

    async def test_memory_entries_expire(self) -> None:
        now = [0.0]
        store = MemoryIdempotencyStore(clock=lambda: now[0])
        assert await store.claim("k", "first", ttl_ms=1000) is None
        assert await store.claim("k", "second", ttl_ms=1000) == "first"

        now[0] = 1.5

        assert await store.claim("k", "second", ttl_ms=1000) is None

    async def test_a_claim_taken_over_is_never_overwritten_by_its_old_owner(self) -> None:
        store = MemoryIdempotencyStore()
        await store.claim("k", "new owner", ttl_ms=1000)

        await store.replace("k", "old owner", "old answer", ttl_ms=1000)
        await store.release("k", "old owner")

        assert await store.claim("k", "someone", ttl_ms=1000) == "new owner"


class TestOpenApi:
    async def test_every_post_documents_the_optional_header(
        self, client: httpx.AsyncClient
    ) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]

        posts = [item["post"] for item in paths.values() if "post" in item]
        others = [op for item in paths.values() for m, op in item.items() if m != "post"]

        assert posts
        for operation in posts:
            header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
            assert header == [header[0]]
            assert (header[0]["in"], header[0]["required"]) == ("header", False)
            assert {"409", "422"} <= operation["responses"].keys()
        for operation in others:
            assert all(p["name"] != "Idempotency-Key" for p in operation.get("parameters", []))
