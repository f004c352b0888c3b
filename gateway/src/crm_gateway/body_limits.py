"""Refuse bodies the API cannot take before any route reads them: 413 and 415.

Pure ASGI: the body is read here, at most `max_bytes` of it, and replayed to the
app, so a chunked body without a Content-Length cannot slip past the limit. It is
spooled (in memory up to 1 MiB, then in a temporary file), so a large upload (a file, a
CSV import of up to a GiB) never sits whole in the gateway's memory; its SHA-256, taken
on the way, is left in the scope for the idempotency layer, which so never reads it again.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.problems import Problem, problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"
# The scope key under which the checked body's SHA-256 (bytes) is left for inner layers.
BODY_SHA256 = "crm.body_sha256"
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
REPLAY_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class BodyRule:
    """Paths (a full match) whose body has its own media type(s) and limit (file uploads,
    public form posts)."""

    path: re.Pattern[str]
    media_type: str | tuple[str, ...]
    max_bytes: int

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type,) if isinstance(self.media_type, str) else self.media_type


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, rules: Sequence[BodyRule] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.rules = tuple(rules)

    def _rule_for(self, path: str) -> BodyRule:
        for rule in self.rules:
            if rule.path.fullmatch(path):
                return rule
        return BodyRule(re.compile(".*"), JSON, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rule = self._rule_for(scope["path"])
        problem = _refusal_from_headers(request, rule)
        if problem is not None:
            await problem_response(problem, request)(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
            digest = await _spool_up_to_limit(receive, spool, rule.max_bytes)
            if digest is None:
                await problem_response(_too_large(rule.max_bytes), request)(scope, receive, send)
                return
            scope[BODY_SHA256] = digest
            spool.seek(0)
            await self.app(scope, _replay(spool, receive), send)


async def _spool_up_to_limit(receive: Receive, spool: IO[bytes], max_bytes: int) -> bytes | None:
    """Spool the whole body and return its SHA-256, or None as soon as it passes the limit
    (never keeping more)."""
    digest = hashlib.sha256()
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return digest.digest()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        digest.update(chunk)
        spool.write(chunk)
        if not message.get("more_body", False):
            return digest.digest()


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, "body_too_large", f"the body exceeds {max_bytes} bytes")


def media_type_of(request: Request) -> str:
    """The request's media type, without parameters, lower case ("" when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _refusal_from_headers(request: Request, rule: BodyRule) -> Problem | None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > rule.max_bytes:
        return _too_large(rule.max_bytes)
    has_body = (length is not None and length != "0") or "transfer-encoding" in request.headers
    if has_body and media_type_of(request) not in rule.media_types:
        expected = " or ".join(rule.media_types)
        return Problem(415, "unsupported_media_type", f"send the body as {expected}")
    return None


def _replay(spool: IO[bytes], receive: Receive) -> Receive:
    """The spooled body in chunks, then whatever the client sends next (a disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(REPLAY_CHUNK_BYTES)
        done = _at_end(spool)
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


def _at_end(spool: IO[bytes]) -> bool:
    position = spool.tell()
    at_end = spool.read(1) == b""
    spool.seek(position)
    return at_end
