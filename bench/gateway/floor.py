"""`python -m bench.gateway.floor edge|upstream`: the read with no product code at all.

What the latency goal has to fit in before a line of ours runs: the same
`GET /v1/contacts/{id}` through a raw ASGI app on uvicorn (uvloop, httptools: the
gateway's server) that makes one Redis round trip (a one-key Lua counter, as a rate
limit costs at least) and one grpc.aio unary call to a bare grpc.aio server, which runs
the same driver read as crm-core (`DirectRead`'s SQL and transaction) on an asyncpg
pool and answers a `Contact`. No auth, no routing, no validation, no interceptor, no
logging. The benchmark runs it beside the real platform and prints its overhead as
(c), so the gap between (b) and (c) is what the product's own code costs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg
import grpc
import redis.asyncio as redis_asyncio
import uvicorn
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench.gateway.load import CONTACT_SQL, driver_read_as_tenant
from crm.crm_core.v1 import contacts_pb2

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CONTACT_SERVICE = contacts_pb2.DESCRIPTOR.services_by_name["ContactService"].full_name
GET_CONTACT = f"/{CONTACT_SERVICE}/GetContact"
# One key, one round trip: the least an atomic Redis rate limit costs.
COUNT_SCRIPT = "local n = redis.call('INCR', KEYS[1]) redis.call('PEXPIRE', KEYS[1], 1000) return n"


def _contact(row: asyncpg.Record) -> contacts_pb2.Contact:
    return contacts_pb2.Contact(
        id=str(row["id"]),
        first_name=row["first_name"] or "",
        last_name=row["last_name"] or "",
        email=row["email"] or "",
        version=row["version"],
    )


async def serve_upstream(port: int, dsn: str) -> None:
    """The bare gRPC server: GetContact as one driver read, the tenant from metadata."""
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)

    async def get_contact(
        request: contacts_pb2.GetContactRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb2.Contact:
        tenant_id = dict(context.invocation_metadata() or ())["x-tenant-id"]
        async with pool.acquire() as connection:
            rows = await driver_read_as_tenant(
                connection, tenant_id, CONTACT_SQL, uuid.UUID(request.id), uuid.UUID(tenant_id)
            )
        if not rows:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such contact")
        return _contact(rows[0])

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                CONTACT_SERVICE,
                {
                    "GetContact": grpc.unary_unary_rpc_method_handler(
                        get_contact,
                        request_deserializer=contacts_pb2.GetContactRequest.FromString,
                        response_serializer=contacts_pb2.Contact.SerializeToString,
                    )
                },
            )
        ]
    )
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


class Edge:
    """The bare HTTP side: one Redis round trip and one gRPC call per read."""

    def __init__(self, upstream: str, redis_url: str, tenant_id: str) -> None:
        self._upstream, self._redis_url = upstream, redis_url
        self._metadata = (("x-tenant-id", tenant_id),)
        self._ready = asyncio.Lock()
        self._clients: tuple[redis_asyncio.Redis, Any, str] | None = None

    async def _connect(self) -> tuple[redis_asyncio.Redis, Any, str]:
        # Made on the server's loop, on the first request (grpc.aio binds to a loop).
        async with self._ready:
            if self._clients is None:
                client = redis_asyncio.from_url(self._redis_url)
                sha = await client.script_load(COUNT_SCRIPT)
                channel = grpc.aio.insecure_channel(self._upstream)
                call = channel.unary_unary(
                    GET_CONTACT,
                    request_serializer=contacts_pb2.GetContactRequest.SerializeToString,
                    response_deserializer=contacts_pb2.Contact.FromString,
                )
                self._clients = (client, call, sha)
        return self._clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            await _respond(send, 200, b"{}")
            return
        client, get_contact, sha = self._clients or await self._connect()
        await client.evalsha(sha, 1, f"floor:{self._metadata[0][1]}")
        contact = await get_contact(
            contacts_pb2.GetContactRequest(id=path.rsplit("/", 1)[-1]),
            metadata=self._metadata,
            timeout=5,
        )
        body = {
            "id": contact.id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "version": contact.version,
        }
        await _respond(send, 200, json.dumps(body).encode())


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "upstream":
        uvloop.run(serve_upstream(int(os.environ["FLOOR_GRPC_PORT"]), os.environ["FLOOR_DSN"]))
    elif role == "edge":
        edge = Edge(
            os.environ["FLOOR_UPSTREAM"],
            os.environ["FLOOR_REDIS_URL"],
            os.environ["FLOOR_TENANT_ID"],
        )
        # The gateway's server and its arguments, less what only the product needs.
        uvicorn.run(
            edge,
            host="127.0.0.1",
            port=int(os.environ["FLOOR_HTTP_PORT"]),
            log_config=None,
            server_header=False,
            lifespan="off",
        )
    else:
        raise SystemExit("usage: python -m bench.gateway.floor edge|upstream")


if __name__ == "__main__":
    main()
