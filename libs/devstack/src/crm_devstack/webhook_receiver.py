"""A real local HTTPS webhook receiver for tests: it serves TLS with a certificate from
a throwaway CA (trustme), verifies each request's Standard Webhooks signature on its own
(independently of the sender's code), answers what a test scripts (failures, slowness),
and records every request it got."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    # Which of the path's known secrets produced a signature in the header.
    verified_with: frozenset[str]
    status: int
    at: float = field(default_factory=time.monotonic)


def signatures_valid_for(
    secrets: Iterable[str], *, webhook_id: str, timestamp: str, body: bytes, header: str
) -> frozenset[str]:
    """The secrets among `secrets` for which the header carries a valid v1 signature."""
    given = {part.split(",", 1)[1] for part in header.split() if part.startswith("v1,")}
    valid = set()
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
        expected = base64.b64encode(mac.digest()).decode()
        if any(hmac.compare_digest(expected, g) for g in given):
            valid.add(secret)
    return frozenset(valid)


class WebhookReceiver:
    def __init__(self, ca: trustme.CA, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(host, "localhost").configure_cert(self._context)
        self.received: list[Received] = []
        self._secrets: dict[str, list[str]] = defaultdict(list)
        self._script: dict[str, deque[int]] = defaultdict(deque)
        self._delay: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"https://{self.host}:{self.port}{path}"

    def expect_secrets(self, path: str, *secrets: str) -> None:
        self._secrets[path] = list(secrets)

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with these statuses, then 200."""
        self._script[path].extend(statuses)

    def slow_down(self, path: str, seconds: float) -> None:
        self._delay[path] = seconds

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        if path in self._delay:
            await asyncio.sleep(self._delay[path])
        status = self._script[path].popleft() if self._script[path] else 200
        webhook_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signature = request.headers.get("webhook-signature", "")
        verified = signatures_valid_for(
            self._secrets[path],
            webhook_id=webhook_id,
            timestamp=timestamp,
            body=body,
            header=signature,
        )
        if not verified:
            status = 401
        self.received.append(
            Received(path, webhook_id, timestamp, signature, body, verified, status)
        )
        return web.Response(status=status, text="ok" if status == 200 else f"answered {status}")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self._context).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(
        self, condition: Callable[[], bool], *, within: float = 20.0, interval: float = 0.05
    ) -> None:
        """Waits until `condition()` holds; AssertionError with what arrived otherwise."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.received)}: {self.received!r}")
            await asyncio.sleep(interval)


def write_ca_bundle(ca: trustme.CA, directory: Path) -> Path:
    path = directory / "webhook-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
