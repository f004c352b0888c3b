"""Idempotency-Key on POST: a retried request replays the first answer, never runs twice.

Like Stripe's: the first request with a key claims it atomically, runs, and its final
answer (2xx, or 4xx other than 409 and 429) is kept for `idempotency_ttl_seconds`. The
same key and request again replays that answer with `Idempotent-Replayed: true`; the
same key with another method, path or body is 422 `idempotency_key_reused`; the same
key while the first still runs is 409 `idempotency_in_progress`. A 5xx or a raised
error releases the claim, so a retry runs again. Keys are scoped by caller (a hash of
the Authorization header, else the client IP), so no caller sees another's answers.

Pure ASGI, mounted inside BodyLimitMiddleware: the body's hash is the one that layer
took while checking the size limit (`BODY_SHA256` in the scope), so an upload is never
read into memory here; mounted alone, it reads and hashes the body itself. If the store
is unreachable the request runs without idempotency rather than failing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis_asyncio
from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.body_limits import BODY_SHA256
from crm_gateway.problems import Problem, problem_response
from crm_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

HEADER_NAME = "Idempotency-Key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
_KEY_HEADER = b"idempotency-key"
_KEY_FORMAT = re.compile(rb"[\x20-\x7e]{1,255}")
# Headers of one exchange rather than of the answer: a replay gets its own.
_PER_REQUEST_HEADERS = frozenset({b"x-request-id", b"date", b"server", b"idempotent-replayed"})
_UNSTORED_STATUSES = frozenset({409, 429})
# A claim outlives the longest request (a few upstream calls, each bounded by the
# upstream timeout) but not a crashed replica: its key becomes usable again.
_CLAIM_UPSTREAM_TIMEOUTS = 6
_STORE_ERRORS = (RedisError, ConnectionError, OSError, TimeoutError)


class IdempotencyStore(Protocol):
    """Claims and answers by key. Values are opaque strings; the claimant's value is
    its ownership proof, so a claim that expired and was taken over is never touched."""

    async def claim(self, key: str, value: str, ttl_ms: int) -> str | None:
        """Set `value` if `key` is free and answer None, else answer what the key holds."""

    async def replace(self, key: str, owned: str, value: str, ttl_ms: int) -> None:
        """Set `value` if `key` still holds `owned`."""

    async def release(self, key: str, owned: str) -> None:
        """Delete `key` if it still holds `owned`."""


class MemoryIdempotencyStore:
    """One process's store. Each method runs without awaiting, so it is atomic on the loop."""

    _SWEEP_EVERY_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}
        self._next_sweep = clock() + self._SWEEP_EVERY_SECONDS

    def _get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def _set(self, key: str, value: str, ttl_ms: int) -> None:
        self._entries[key] = (self._clock() + ttl_ms / 1000, value)

    def _sweep(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._SWEEP_EVERY_SECONDS
        self._entries = {k: e for k, e in self._entries.items() if e[0] > now}

    async def claim(self, key: str, value: str, ttl_ms: int) -> str | None:
        self._sweep()
        held = self._get(key)
        if held is None:
            self._set(key, value, ttl_ms)
        return held

    async def replace(self, key: str, owned: str, value: str, ttl_ms: int) -> None:
        if self._get(key) == owned:
            self._set(key, value, ttl_ms)

    async def release(self, key: str, owned: str) -> None:
        if self._get(key) == owned:
            del self._entries[key]


_REPLACE_IF_OWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false
"""
_DELETE_IF_OWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisIdempotencyStore:
    """Shared by every gateway replica: a claim is one `SET NX PX`, the rest compare-and-set."""

    def __init__(self, client: redis_asyncio.Redis) -> None:
        self._client = client
        self._replace = client.register_script(_REPLACE_IF_OWNED)
        self._delete = client.register_script(_DELETE_IF_OWNED)

    async def claim(self, key: str, value: str, ttl_ms: int) -> str | None:
        # Twice at most: a key that expires between SET and GET is free again.
        for _ in range(2):
            if await self._client.set(key, value, nx=True, px=ttl_ms):
                return None
            held = await self._client.get(key)
            if held is not None:
                return held.decode() if isinstance(held, bytes) else str(held)
        return None

    async def replace(self, key: str, owned: str, value: str, ttl_ms: int) -> None:
        await self._replace(keys=[key], args=[owned, value, ttl_ms])

    async def release(self, key: str, owned: str) -> None:
        await self._delete(keys=[key], args=[owned])


def store_from_url(url: str) -> IdempotencyStore:
    """memory:// keeps answers in this process; redis:// shares them across replicas."""
    if url.startswith("memory://"):
        return MemoryIdempotencyStore()
    # Short timeouts: an unreachable store must not hold requests up for long.
    return RedisIdempotencyStore(
        redis_asyncio.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    )


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Entry:
    """What a key holds: the claimant's request fingerprint and, once done, its answer."""

    fingerprint: str
    owner: str
    response: StoredResponse | None = None

    def dump(self) -> str:
        data: dict[str, Any] = {"fingerprint": self.fingerprint, "owner": self.owner}
        if self.response is not None:
            data["status"] = self.response.status
            data["headers"] = [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in self.response.headers
            ]
            data["body"] = base64.b64encode(self.response.body).decode()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, value: str) -> Entry:
        data = json.loads(value)
        response = None
        if "status" in data:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in data["headers"]]
            response = StoredResponse(data["status"], headers, base64.b64decode(data["body"]))
        return cls(data["fingerprint"], data["owner"], response)


class ResponseRecorder:
    """Passes the response through to the client while keeping a copy of it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        await self._send(message)

    def final_answer(self) -> StoredResponse | None:
        """The response to keep, or None when a retry should run again."""
        cache_control = dict(self.headers).get(b"cache-control", b"").lower()
        is_final = 200 <= self.status < 300 or (
            400 <= self.status < 500 and self.status not in _UNSTORED_STATUSES
        )
        if not is_final or b"no-store" in cache_control:
            return None
        headers = [(k, v) for k, v in self.headers if k.lower() not in _PER_REQUEST_HEADERS]
        return StoredResponse(self.status, headers, b"".join(self.chunks))


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, *, store: IdempotencyStore, ttl_seconds: int, claim_seconds: float
    ) -> None:
        self.app = app
        self.store = store
        self.ttl_ms = ttl_seconds * 1000
        self.claim_ms = int(claim_seconds * 1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        offered = _header(scope, _KEY_HEADER) if scope["type"] == "http" else None
        if offered is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not _KEY_FORMAT.fullmatch(offered):
            detail = f"{HEADER_NAME} must be 1 to 255 printable ASCII characters"
            await _refuse(Problem(422, "invalid_idempotency_key", detail), scope, receive, send)
            return
        body_sha256 = scope.get(BODY_SHA256)
        if body_sha256 is None:
            body = await _read_body(receive)
            receive = _replaying(body, receive)
            body_sha256 = hashlib.sha256(body).digest()
        key = _store_key(scope, offered)
        claim = Entry(_fingerprint(scope, body_sha256), secrets.token_hex(16)).dump()
        try:
            held = await self.store.claim(key, claim, self.claim_ms)
        except _STORE_ERRORS as exc:
            log.warning(
                "idempotency store unreachable; running without it", extra={"error": repr(exc)}
            )
            await self.app(scope, receive, send)
            return
        if held is not None:
            await _answer_from(Entry.load(held), Entry.load(claim), scope, receive, send)
            return
        await self._run_once(key, claim, scope, receive, send)

    async def _run_once(
        self, key: str, claim: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        recorder = ResponseRecorder(send)
        try:
            await self.app(scope, receive, recorder.send)
        except Exception:
            await self._release(key, claim)
            raise
        answer = recorder.final_answer()
        if answer is None:
            await self._release(key, claim)
            return
        done = Entry.load(claim)
        stored = Entry(done.fingerprint, done.owner, answer).dump()
        try:
            await self.store.replace(key, claim, stored, self.ttl_ms)
        except _STORE_ERRORS as exc:
            log.warning(
                "idempotency store unreachable; answer not kept", extra={"error": repr(exc)}
            )

    async def _release(self, key: str, claim: str) -> None:
        try:
            await self.store.release(key, claim)
        except _STORE_ERRORS as exc:
            log.warning(
                "idempotency store unreachable; claim left to expire", extra={"error": repr(exc)}
            )


async def _answer_from(
    held: Entry, mine: Entry, scope: Scope, receive: Receive, send: Send
) -> None:
    if held.fingerprint != mine.fingerprint:
        detail = f"this {HEADER_NAME} was used with another method, path or body"
        await _refuse(Problem(422, "idempotency_key_reused", detail), scope, receive, send)
    elif held.response is None:
        problem = Problem(
            409,
            "idempotency_in_progress",
            f"a request with this {HEADER_NAME} is still running; retry shortly",
            headers={"Retry-After": "1"},
        )
        await _refuse(problem, scope, receive, send)
    else:
        stored = held.response
        headers = [*stored.headers, REPLAYED_HEADER]
        await send({"type": "http.response.start", "status": stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": stored.body})


async def _refuse(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    await problem_response(problem, Request(scope))(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _store_key(scope: Scope, offered: bytes) -> str:
    """The key as seen by its caller: a hash of their credential, else their IP."""
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        caller = b"credential:" + hashlib.sha256(authorization).hexdigest().encode()
    else:
        client = scope.get("client")
        caller = b"ip:" + (client[0] if client else "unknown").encode()
    return "idempotency:" + hashlib.sha256(caller + b"\0" + offered).hexdigest()


def _fingerprint(scope: Scope, body_sha256: bytes) -> str:
    request = "\0".join(
        (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"))
    )
    return hashlib.sha256(request.encode() + b"\0" + body_sha256).hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def document_header(app: FastAPI) -> None:
    """List the optional Idempotency-Key header, and its refusals, on every POST operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        has_problems = "ProblemDetails" in schema.get("components", {}).get("schemas", {})
        for path_item in schema.get("paths", {}).values():
            operation = path_item.get("post")
            if operation is not None:
                _document_operation(operation, with_problems=has_problems)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_PARAMETER: dict[str, Any] = {
    "name": HEADER_NAME,
    "in": "header",
    "required": False,
    "description": "Any unique value (a UUID is a good one). Retrying with the same key "
    "and body within 24 hours replays the first answer, with `Idempotent-Replayed: true`, "
    "instead of running the request again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
}
_REFUSALS = {
    "409": "A request with this Idempotency-Key is still running (`idempotency_in_progress`)",
    "422": "Invalid request; includes a reused Idempotency-Key (`idempotency_key_reused`)",
}


def _document_operation(operation: dict[str, Any], *, with_problems: bool) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == HEADER_NAME for p in parameters):
        parameters.append(_PARAMETER)
    if not with_problems:
        return
    problem = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    for status, description in _REFUSALS.items():
        operation["responses"].setdefault(
            status,
            {"description": description, "content": {"application/problem+json": problem}},
        )


def install(app: FastAPI, settings: GatewaySettings) -> None:
    """Mount the middleware (call it just before BodyLimitMiddleware is added, so it runs
    inside it) and document the header."""
    app.add_middleware(
        IdempotencyMiddleware,
        store=store_from_url(settings.idempotency_storage_url or settings.rate_limit_storage_url),
        ttl_seconds=settings.idempotency_ttl_seconds,
        claim_seconds=_CLAIM_UPSTREAM_TIMEOUTS * settings.upstream_timeout_seconds,
    )
    document_header(app)
