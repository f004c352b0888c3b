"""Routers answer "no match" at once outside their prefix, and match as before inside."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from crm_gateway.routes.router import PrefixedRouter

pytestmark = pytest.mark.unit


def two_routers() -> FastAPI:
    app = FastAPI()
    things = PrefixedRouter(prefix="/v1/things")
    other = PrefixedRouter()

    @things.get("/{thing_id}")
    async def read_thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @other.get("/v1/things-count")
    async def count() -> dict[str, int]:
        return {"count": 1}

    app.include_router(things)
    app.include_router(other)
    return app


class TestPrefixedRouter:
    async def test_paths_inside_and_beside_the_prefix_reach_their_routes(self) -> None:
        transport = httpx.ASGITransport(app=two_routers())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/v1/things/7")).json() == {"thing": "7"}
            assert (await client.get("/v1/things-count")).json() == {"count": 1}
            assert (await client.get("/v1/nothing")).status_code == 404
            assert (await client.post("/v1/things/7")).status_code == 405
