"""Refuse bodies the API cannot take before any route reads them: 413 and 415.

Pure ASGI: the body is read here, at most `max_bytes` of it, and replayed to the
app, so a chunked body without a Content-Length cannot slip past the limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.problems import Problem, problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"


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
        body = await _read_up_to_limit(receive, rule.max_bytes)
        if body is None:
            await problem_response(_too_large(rule.max_bytes), request)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_up_to_limit(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it passes the limit (never buffering more)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, "body_too_large", f"the body exceeds {max_bytes} bytes")


def _refusal_from_headers(request: Request, rule: BodyRule) -> Problem | None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > rule.max_bytes:
        return _too_large(rule.max_bytes)
    has_body = (length is not None and length != "0") or "transfer-encoding" in request.headers
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and media_type not in rule.media_types:
        expected = " or ".join(rule.media_types)
        return Problem(415, "unsupported_media_type", f"send the body as {expected}")
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
