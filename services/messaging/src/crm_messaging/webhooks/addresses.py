"""Where a webhook may be sent: HTTPS URLs of public hosts only (no SSRF).

A URL is checked when it is subscribed and its host is resolved again at every send,
inside the HTTP client's resolver, so a name that later resolves to a private,
loopback, link-local (cloud metadata) or otherwise non-public address (DNS rebinding)
is refused before any connection. Networks in MESSAGING_WEBHOOK_ALLOW_PRIVATE_HOSTS
are exempt (development and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from crm_kit.errors import InvalidArgument

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
# A subscription's host must resolve within this (a hung resolver is not a public host).
RESOLVE_TIMEOUT_SECONDS = 5.0


class BlockedAddress(OSError):
    """The host resolves to an address webhooks may not reach."""


def is_allowed(address: IPAddress, allowed: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return True
    return address.is_global and not address.is_multicast


def check_url(url: str) -> str:
    """The URL if it is an absolute HTTPS URL without credentials; 422 otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidArgument("the URL is too long", code="invalid_url", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument("the URL is not valid", code="invalid_url", field="url") from exc
    if parts.scheme != "https":
        raise InvalidArgument("webhook URLs must use https", code="https_required", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(
            "webhook URLs may not carry credentials", code="url_credentials", field="url"
        )
    if not parts.hostname or port == 0:
        raise InvalidArgument("the URL has no host", code="invalid_url", field="url")
    return url


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal: itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def check_destination(url: str, allowed: Sequence[Network]) -> None:
    """Refuses (422) a URL whose host does not resolve, or resolves to any non-public
    address: every address must be allowed, since the client may connect to any."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            addresses = await resolve(host, parts.port or 443)
    except (OSError, TimeoutError) as exc:
        raise InvalidArgument(
            f"the host {host} does not resolve", code="unresolvable_host", field="url"
        ) from exc
    if not addresses or not all(is_allowed(a, allowed) for a in addresses):
        raise InvalidArgument(
            "webhook URLs must point to a public address (not private, loopback, "
            "link-local or metadata)",
            code="forbidden_address",
            field="url",
        )


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing any name that resolves to a forbidden address. The
    client then connects to exactly the addresses checked here (no second lookup)."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._inner = ThreadedResolver()
        self._allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_allowed(ipaddress.ip_address(result["host"]), self._allowed):
                raise BlockedAddress(f"{host} resolves to a forbidden address")
        return results

    async def close(self) -> None:
        await self._inner.close()
