"""One HTTP attempt of a delivery: signed headers, bounded time, a classified outcome."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from crm_messaging.webhooks.addresses import BlockedAddress, GuardedResolver, Network, is_allowed

SNIPPET_CHARS = 500
USER_AGENT = "crm-webhooks/1"
TIMEOUT, CONNECTION_ERROR, TLS_ERROR, BLOCKED, HTTP_STATUS = (
    "timeout",
    "connection_error",
    "tls_error",
    "blocked_address",
    "http_status",
)
RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    error: str = ""
    snippet: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """Timeouts, connection and TLS failures, 5xx, 408 and 429 are retried; other
        answers (4xx, redirects) and refused addresses are final."""
        if self.status_code is None:
            return self.error != BLOCKED
        return self.status_code >= 500 or self.status_code in RETRYABLE_STATUSES


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class WebhookSender:
    """An HTTP client shared by every attempt of the process (TLS sessions, DNS cache)."""

    def __init__(
        self,
        *,
        allowed_networks: Sequence[Network],
        ca_bundle: Path | None,
        timeout_seconds: float,
        max_connections: int,
    ) -> None:
        self._allowed = tuple(allowed_networks)
        self._ca_bundle = ca_bundle
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context()
            if self._ca_bundle is not None:
                context.load_verify_locations(cafile=str(self._ca_bundle))
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._allowed),
                ssl=context,
                limit=self._max_connections,
                ttl_dns_cache=10,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _literal_blocked(self, url: str) -> bool:
        """aiohttp connects to an IP literal without its resolver: check it here."""
        host = (urlsplit(url).hostname or "").strip("[]")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return not is_allowed(address, self._allowed)

    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        if self._literal_blocked(url):
            return AttemptResult(None, 0, BLOCKED)
        try:
            async with self._client().post(
                url,
                data=body,
                headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT},
                allow_redirects=False,
            ) as response:
                raw = await response.content.read(SNIPPET_CHARS)
                return AttemptResult(
                    response.status,
                    elapsed(),
                    "" if 200 <= response.status < 300 else HTTP_STATUS,
                    raw.decode("utf-8", "replace")[:SNIPPET_CHARS],
                    _retry_after(response.headers.get("retry-after")),
                )
        except TimeoutError:
            return AttemptResult(None, elapsed(), TIMEOUT)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                return AttemptResult(None, elapsed(), BLOCKED)
            if isinstance(exc, aiohttp.ClientSSLError):
                return AttemptResult(None, elapsed(), TLS_ERROR)
            return AttemptResult(None, elapsed(), CONNECTION_ERROR)
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError):
            return AttemptResult(None, elapsed(), CONNECTION_ERROR)
